/** `cluster status`, `list`, `down` and what `ssh` needs: the library side, errors as HomelabErrors. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { CancelledError, InputError, JobError } from "../errors.js";
import type { CancelRequest } from "../packer/cancel.js";
import { checkOwnVagrantfile, clusterDir, exists, removeOwnFiles, SSH_CONFIG } from "./cluster-dir.js";
import { parseNodeRows } from "./node-output.js";
import { NodeShell } from "./node-shell.js";
import { ADMIN_CONF, firstControlPlane, planSteps } from "./plan.js";
import { readState, STATE_FILE } from "./state.js";
import type { Role } from "./topology.js";
import { lastLines, VagrantProject } from "./vagrant.js";
import { VAGRANTFILE } from "./vagrantfile.js";

export interface NodeStatus {
  name: string;
  role: Role;
  ip: string;
  /** Vagrant's machine state: running, shutoff, not_created ... */
  machine: string;
  /** Ready / NotReady from the API, "-" when it cannot be asked. */
  ready: string;
}

export interface ClusterStatus {
  name: string;
  dir: string;
  distribution: string;
  bootstrapped: boolean;
  /** The first step not done, when the bootstrap is not complete. */
  pendingStep?: string;
  nodes: NodeStatus[];
}

async function existingDir(workDir: string, name: string): Promise<string> {
  const root = join(workDir, "clusters");
  if (!(await exists(root))) throw new InputError(`no cluster ${name} in ${root}`);
  const dir = await clusterDir(workDir, name);
  if (!(await exists(join(dir, STATE_FILE))) && !(await exists(join(dir, VAGRANTFILE)))) throw new InputError(`no cluster ${name} in ${root}`);
  return dir;
}

export async function clusterStatus(workDir: string, name: string, opts: { env?: NodeJS.ProcessEnv } = {}): Promise<ClusterStatus> {
  const dir = await existingDir(workDir, name);
  await checkOwnVagrantfile(dir);
  const state = await readState(dir);
  if (state === undefined) throw new InputError(`cluster ${name}: no ${STATE_FILE} in ${dir} (its first \`up\` did not get past the VMs)`);
  const t = state.topology;
  const vagrant = new VagrantProject(dir, opts.env ? { env: opts.env } : {});
  const machines = await vagrant.status();
  if ("error" in machines) throw new JobError("`vagrant status` failed", { details: machines.error.split("\n") });
  const pending = planSteps(t).find((s) => state.steps[s.id] !== "done");
  let rows: ReturnType<typeof parseNodeRows> = [];
  const cp = firstControlPlane(t);
  if (machines.get(cp.name) === "running" && state.steps.init === "done" && (await exists(join(dir, SSH_CONFIG)))) {
    const kubectl = t.distribution === "k3s" ? "k3s kubectl" : `kubectl --kubeconfig ${ADMIN_CONF}`;
    const r = await new NodeShell(dir, join(dir, SSH_CONFIG), opts.env ? { env: opts.env } : {}).run(cp.name, `${kubectl} get nodes -o wide --no-headers`);
    if (r.code === 0) rows = parseNodeRows(r.stdout);
  }
  return {
    name,
    dir,
    distribution: t.distribution,
    bootstrapped: pending === undefined,
    ...(pending ? { pendingStep: pending.id } : {}),
    nodes: t.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      ip: n.ip,
      machine: machines.get(n.name) ?? "not_created",
      ready: rows.find((r) => r.name === n.name)?.status ?? "-",
    })),
  };
}

export interface ClusterListEntry {
  name: string;
  distribution?: string;
  nodes?: number;
  bootstrapped: boolean;
}

export async function listClusters(workDir: string): Promise<ClusterListEntry[]> {
  const root = join(workDir, "clusters");
  const names = await readdir(root).catch(() => [] as string[]);
  const out: ClusterListEntry[] = [];
  for (const name of names.sort()) {
    const dir = join(root, name);
    const state = await readState(dir).catch(() => undefined);
    if (state === undefined) {
      if (await exists(join(dir, VAGRANTFILE))) out.push({ name, bootstrapped: false });
      continue;
    }
    out.push({
      name,
      distribution: state.topology.distribution,
      nodes: state.topology.nodes.length,
      bootstrapped: planSteps(state.topology).every((s) => state.steps[s.id] === "done"),
    });
  }
  return out;
}

/**
 * Destroys the nodes (`vagrant destroy -f`: domains, their volumes, the private network once no
 * domain uses it) and removes homelab's files; a file of the user's in the directory stays (and
 * with it the directory).
 */
export async function clusterDown(workDir: string, name: string, opts: { env?: NodeJS.ProcessEnv; cancel?: CancelRequest } = {}): Promise<{ dir: string; keptDir: boolean }> {
  const dir = await existingDir(workDir, name);
  await checkOwnVagrantfile(dir);
  if (await exists(join(dir, VAGRANTFILE))) {
    const vagrant = new VagrantProject(dir, { ...(opts.env ? { env: opts.env } : {}), ...(opts.cancel ? { cancel: opts.cancel } : {}) });
    const before = await vagrant.status();
    if ("error" in before) throw new JobError("`vagrant status` failed", { details: before.error.split("\n") });
    // Nothing was ever created (or it is gone already): nothing for Vagrant to destroy.
    if ([...before.values()].every((s) => s === "not_created")) return { dir, ...(await removeOwnFiles(dir)) };
    const r = await vagrant.destroy();
    if (r.cancelled) throw new CancelledError("cancelled: `homelab cluster down` again finishes the job");
    if (r.code !== 0) throw new JobError(`vagrant destroy failed (exit ${r.code})`, { details: lastLines(r.stderr || r.stdout).split("\n") });
    const after = await vagrant.status();
    if ("error" in after) throw new JobError("`vagrant status` failed after destroy", { details: after.error.split("\n") });
    const left = [...after].filter(([, s]) => s !== "not_created").map(([n]) => n);
    if (left.length > 0) throw new JobError(`vagrant destroy left ${left.join(", ")}`);
  }
  return { dir, ...(await removeOwnFiles(dir)) };
}

/** The ssh command line for a node (`ssh -F <ssh-config> NODE`), or an error naming the nodes. */
export async function sshCommand(workDir: string, name: string, node: string): Promise<string[]> {
  const dir = await existingDir(workDir, name);
  const state = await readState(dir);
  const names = state?.topology.nodes.map((n) => n.name) ?? [];
  if (!names.includes(node)) throw new InputError(`cluster ${name} has no node ${JSON.stringify(node)} (nodes: ${names.join(", ") || "none yet"})`);
  if (!(await exists(join(dir, SSH_CONFIG)))) throw new InputError(`cluster ${name}: no ${SSH_CONFIG} yet (bring it up first)`);
  return ["ssh", "-F", join(dir, SSH_CONFIG), node];
}
