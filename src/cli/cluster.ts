import type { Command } from "commander";
import { InputError } from "../errors.js";
import { examples } from "./help.js";
import { CONFIG_HELP, positiveInt } from "./options.js";

const WORK_DIR_HELP = "homelab's state directory (default: .homelab beside the config)";
const NAME_HELP = "the cluster (default: cluster.name in the config)";

interface CommonFlags {
  config?: string;
  name?: string;
  workDir?: string;
}

/** The cluster's name and the work directory: from the flags, else from the project's config. */
async function target(flags: CommonFlags): Promise<{ name: string; workDir: string }> {
  const { join } = await import("node:path");
  const { patterns } = await import("../config/schema.js");
  if (flags.name !== undefined && !patterns.CLUSTER_NAME.test(flags.name)) {
    throw new InputError(`--name: expected lowercase letters, digits and dashes, starting with a letter, got ${JSON.stringify(flags.name)}`);
  }
  if (flags.name !== undefined && flags.workDir !== undefined) return { name: flags.name, workDir: flags.workDir };
  const { projectConfig } = await import("./options.js");
  const { config, projectDir } = await projectConfig(flags);
  const name = flags.name ?? config.cluster?.name;
  if (name === undefined) throw new InputError("the config has no cluster section (add one, see `homelab cluster --help`), or give --name");
  return { name, workDir: flags.workDir ?? join(projectDir, ".homelab") };
}

export function register(program: Command): void {
  const cluster = program
    .command("cluster")
    .description(
      "A multi-node Kubernetes cluster from the box, with Vagrant (libvirt): the nodes talk on a private " +
        "network, kubeadm or k3s is set up over SSH. Files in .homelab/clusters/<name>/.",
    );
  examples(cluster, ["homelab build && homelab cluster up", "homelab cluster status", "homelab cluster ssh homelab-cp1", "homelab cluster down"]);

  const up = cluster
    .command("up")
    .description(
      "Write the Vagrantfile, bring the nodes up in parallel, bootstrap kubeadm or k3s over SSH, write the " +
        "kubeconfig and wait until every node is Ready. Again on a running cluster: nothing changes; after a " +
        "failure it resumes at the failed step. Ctrl-C stops cleanly (exit 130).",
    )
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--name <name>", "cluster name (default: cluster.name in the config)")
    .option("--accel <mode>", "auto, kvm or tcg: how the VMs run (auto: KVM when it runs guests)", "auto")
    .option("--timeout <seconds>", "how long to wait for every node to be Ready", positiveInt("--timeout"), 900)
    .option("--work-dir <dir>", WORK_DIR_HELP)
    .action(async (flags: CommonFlags & { accel: string; timeout: number }) => {
      const { runClusterUp } = await import("./cluster-up.js");
      await runClusterUp(flags);
    });
  examples(up, ["homelab cluster up", "homelab cluster up --accel tcg --timeout 1800", "homelab cluster up --name lab2 -c lab.yaml"]);

  const status = cluster
    .command("status")
    .description("Nodes, roles, private addresses, VM state and Ready, and how far the bootstrap got.")
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--name <name>", NAME_HELP)
    .option("--work-dir <dir>", WORK_DIR_HELP)
    .option("--json", "print the status as JSON")
    .action(async (flags: CommonFlags & { json?: boolean }) => {
      const { clusterStatus } = await import("../cluster/manage.js");
      const { name, workDir } = await target(flags);
      const s = await clusterStatus(workDir, name);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      const rows = [["NODE", "ROLE", "ADDRESS", "VM", "READY"], ...s.nodes.map((n) => [n.name, n.role, n.ip, n.machine, n.ready])];
      printTable(rows);
      process.stdout.write(
        `cluster ${s.name} (${s.distribution}): ${s.bootstrapped ? "bootstrapped" : `bootstrap not finished (next step: ${s.pendingStep}; \`homelab cluster up\` resumes)`}\n`,
      );
    });
  examples(status, ["homelab cluster status", "homelab cluster status --name lab --json"]);

  const ssh = cluster
    .command("ssh")
    .description("Open a shell on a node (or run a command there), over the cluster's ssh-config.")
    .argument("<node>", "the node, e.g. homelab-cp1 (see `homelab cluster status`)")
    .argument("[command...]", "a command to run instead of a shell (after --)")
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--name <name>", NAME_HELP)
    .option("--work-dir <dir>", WORK_DIR_HELP)
    .action(async (node: string, command: string[], flags: CommonFlags) => {
      const { sshCommand } = await import("../cluster/manage.js");
      const { spawnSync } = await import("node:child_process");
      const { name, workDir } = await target(flags);
      const [cmd, ...args] = await sshCommand(workDir, name, node);
      const r = spawnSync(cmd!, [...args, ...command], { stdio: "inherit" });
      process.exitCode = r.status ?? 1;
    });
  examples(ssh, ["homelab cluster ssh homelab-cp1", "homelab cluster ssh homelab-w1 -- ip -4 addr"]);

  const down = cluster
    .command("down")
    .description(
      "Destroy the nodes (VMs, their volumes, the private network) and remove homelab's files from the " +
        "cluster's directory; files of yours there stay.",
    )
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--name <name>", NAME_HELP)
    .option("--work-dir <dir>", WORK_DIR_HELP)
    .action(async (flags: CommonFlags) => {
      const { clusterDown } = await import("../cluster/manage.js");
      const { CancelRequest, cancelOnSignals } = await import("../packer/cancel.js");
      const { name, workDir } = await target(flags);
      const cancel = new CancelRequest();
      const dispose = cancelOnSignals(cancel);
      try {
        const r = await clusterDown(workDir, name, { cancel });
        process.stdout.write(`cluster ${name}: destroyed${r.keptDir ? ` (kept ${r.dir}: it holds files homelab did not write)` : ""}\n`);
      } finally {
        dispose();
      }
    });
  examples(down, ["homelab cluster down", "homelab cluster down --name lab"]);

  const list = cluster
    .command("list")
    .description("The clusters in .homelab/clusters: name, distribution, nodes, bootstrapped or not.")
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--work-dir <dir>", WORK_DIR_HELP)
    .option("--json", "print the list as JSON")
    .action(async (flags: { config?: string; workDir?: string; json?: boolean }) => {
      const { listClusters } = await import("../cluster/manage.js");
      const workDir = flags.workDir ?? (await workDirOf(flags.config));
      const clusters = await listClusters(workDir);
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ workDir, clusters }, null, 2)}\n`);
        return;
      }
      if (clusters.length === 0) {
        process.stdout.write(`no clusters in ${workDir}/clusters\n`);
        return;
      }
      printTable([
        ["NAME", "DISTRIBUTION", "NODES", "STATE"],
        ...clusters.map((c) => [c.name, c.distribution ?? "-", c.nodes === undefined ? "-" : String(c.nodes), c.bootstrapped ? "bootstrapped" : "not bootstrapped"]),
      ]);
    });
  examples(list, ["homelab cluster list", "homelab cluster list --json"]);
}

/** The project's .homelab (found like the config), else ./.homelab. */
async function workDirOf(config: string | undefined): Promise<string> {
  const { join, dirname, relative, resolve } = await import("node:path");
  if (config !== undefined) return join(dirname(resolve(config)), ".homelab");
  const { findConfigFile } = await import("../config/source.js");
  const found = (await findConfigFile(process.cwd())).file;
  return found === undefined ? ".homelab" : relative(process.cwd(), join(dirname(found), ".homelab")) || ".homelab";
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()}\n`);
}
