import { join, relative } from "node:path";
import { InputError } from "../errors.js";
import type { UpEvent, UpPhase } from "../cluster/up.js";
import { paint } from "./colour.js";
import { projectConfig } from "./options.js";

const ACCELS = ["auto", "kvm", "tcg"] as const;

/** `homelab cluster up`: progress on stderr, one line per phase with its time; the result on stdout. */
export async function runClusterUp(flags: { config?: string; name?: string; workDir?: string; accel: string; timeout: number }): Promise<void> {
  if (!(ACCELS as readonly string[]).includes(flags.accel)) throw new InputError(`--accel: expected one of ${ACCELS.join(", ")}, got ${JSON.stringify(flags.accel)}`);
  const { config, projectDir } = await projectConfig(flags);
  if (config.cluster === undefined) throw new InputError("the config has no cluster section: add one (see README, `cluster:`) to bring a cluster up");
  if (flags.name !== undefined) {
    const { patterns } = await import("../config/schema.js");
    if (!patterns.CLUSTER_NAME.test(flags.name)) throw new InputError(`--name: expected lowercase letters, digits and dashes, starting with a letter, got ${JSON.stringify(flags.name)}`);
    config.cluster = { ...config.cluster, name: flags.name };
  }
  const workDir = flags.workDir ?? join(projectDir, ".homelab");
  const { clusterUp } = await import("../cluster/up.js");
  const { CancelRequest, cancelOnSignals } = await import("../packer/cancel.js");
  const cancel = new CancelRequest();
  const dispose = cancelOnSignals(cancel);
  const err = process.stderr;
  const green = paint(err).green;
  cancel.onRequest((n) => err.write(n === 1 ? "stopping (Ctrl-C again to kill) ...\n" : "killing ...\n"));
  const onEvent = (e: UpEvent) => {
    if (e.kind === "phase") err.write(`${PHASE_NAMES[e.phase].padEnd(8)} ${e.seconds.toFixed(1).padStart(7)} s\n`);
    else if (e.kind === "step") err.write(`  ${e.what === "done" ? green("done") : e.what === "resume" ? "resuming" : "running"} ${e.step.id} on ${e.step.nodes.join(", ")}\n`);
    else err.write(`${e.text}\n`);
  };
  err.write(`cluster ${config.cluster.name}: ${config.cluster.controlPlanes} control plane(s), ${config.cluster.workers} worker(s), ${config.k8s?.distribution}\n`);
  try {
    const r = await clusterUp({ config, workDir, accel: flags.accel as (typeof ACCELS)[number], cancel, readyTimeoutMs: flags.timeout * 1000, onEvent });
    const kube = relative(process.cwd(), r.kubeconfig) || r.kubeconfig;
    const box = r.box.kind === "build" ? `${r.box.name} (build ${r.box.buildHash.slice(0, 12)})` : `${r.box.name} ${r.box.version}`;
    if (r.unchanged) {
      process.stdout.write(`cluster ${r.topology.name} is up; nothing to do (kubeconfig: ${kube})\n`);
      return;
    }
    process.stdout.write(`cluster ${r.topology.name} is Ready in ${r.totalSeconds.toFixed(1)} s (box ${box}, ${r.accel})\n`);
    for (const n of r.topology.nodes) process.stdout.write(`  ${n.name.padEnd(20)} ${n.role.padEnd(14)} ${n.ip}\n`);
    process.stdout.write(`kubeconfig: ${kube}  (KUBECONFIG=${kube} kubectl get nodes)\n`);
  } finally {
    dispose();
  }
}

const PHASE_NAMES: Record<UpPhase, string> = { vms: "vms up", facts: "facts", init: "init", joins: "joins", ready: "ready" };
