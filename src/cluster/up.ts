/**
 * `homelab cluster up`: the Vagrantfile, the VMs (vagrant-libvirt, in parallel), the bootstrap
 * over SSH, the kubeconfig, every node Ready, the air-gap check. Each phase is timed. Run again,
 * it does nothing on a cluster that is up, and resumes a cluster whose last `up` failed or was
 * cancelled from the step that did not finish.
 */
import { mkdir, readFile, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { CancelledError, InputError, JobError } from "../errors.js";
import { writeFileAtomic } from "../fs/atomic-write.js";
import { probeAccelerator } from "../packer/accelerator.js";
import type { CancelRequest } from "../packer/cancel.js";
import { bootstrap } from "./bootstrap.js";
import { resolveBox } from "./box-source.js";
import { checkOwnVagrantfile, clusterDir, KUBECONFIG, SSH_CONFIG, UP_LOG } from "./cluster-dir.js";
import { NodeShell } from "./node-shell.js";
import { planSteps, type Phase, type Step } from "./plan.js";
import { newState, readState, writeState, type ClusterState } from "./state.js";
import { topologyOf, type Topology } from "./topology.js";
import { lastLines, VagrantProject } from "./vagrant.js";
import { renderVagrantfile, VAGRANTFILE, type Accel, type BoxSource } from "./vagrantfile.js";

export type UpPhase = "vms" | Phase;

export type UpEvent =
  | { kind: "phase"; phase: UpPhase; seconds: number }
  | { kind: "step"; step: Step; what: "start" | "done" | "resume" }
  | { kind: "notice"; text: string };

export interface UpRequest {
  config: Config;
  workDir: string;
  accel: "auto" | Accel;
  cancel: CancelRequest;
  readyTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  onEvent?: (e: UpEvent) => void;
}

export interface UpResult {
  dir: string;
  /** What the nodes run on: the box and the accelerator (as written into the Vagrantfile). */
  box: BoxSource;
  accel: Accel;
  topology: Topology;
  kubeconfig: string;
  /** Nothing was done: the cluster was up and bootstrapped already. */
  unchanged: boolean;
  /** Seconds per phase in this run, and the whole run. */
  phases: Partial<Record<UpPhase, number>>;
  totalSeconds: number;
}

export async function clusterUp(req: UpRequest): Promise<UpResult> {
  const started = Date.now();
  const emit = req.onEvent ?? (() => undefined);
  const t = topologyOf(req.config);
  await mkdir(join(req.workDir, "clusters"), { recursive: true });
  const dir = await clusterDir(req.workDir, t.name);
  await mkdir(dir, { recursive: true });
  await checkOwnVagrantfile(dir);

  let state = await readState(dir);
  if (state !== undefined && JSON.stringify(state.topology) !== JSON.stringify(t)) {
    throw new InputError(`cluster ${t.name} was made with another topology than homelab.yaml's cluster section now has`, {
      details: ["bring it down first to make it again with the new one (its nodes and data go)"],
    });
  }
  const box = await resolveBox(req.config, req.workDir);
  const accel = req.accel === "auto" ? ((await probeAccelerator("kvm")).usable ? "kvm" : "tcg") : req.accel;
  const vagrantfile = renderVagrantfile(t, box, accel);
  const vfPath = join(dir, VAGRANTFILE);
  if ((await readFile(vfPath, "utf8").catch(() => "")) !== vagrantfile) await writeFileAtomic(vfPath, vagrantfile);
  await writeFile(join(dir, UP_LOG), `homelab cluster up ${new Date().toISOString()}\n`, { flag: "a" });

  const vagrant = new VagrantProject(dir, { cancel: req.cancel, ...(req.env ? { env: req.env } : {}) });
  const states = await vagrant.status();
  if ("error" in states) throw new JobError("`vagrant status` failed in the cluster's directory", { details: states.error.split("\n") });
  const running = t.nodes.every((n) => states.get(n.name) === "running");
  const complete = state !== undefined && planSteps(t).every((s) => state!.steps[s.id] === "done");
  const kubeconfig = join(dir, KUBECONFIG);
  if (running && complete) {
    return { dir, box, accel, topology: t, kubeconfig, unchanged: true, phases: {}, totalSeconds: (Date.now() - started) / 1000 };
  }

  const phases: Partial<Record<UpPhase, number>> = {};
  if (!running) {
    // Nodes that do not exist yet are new machines: whatever the state said of them is void.
    if (state !== undefined && t.nodes.some((n) => (states.get(n.name) ?? "not_created") === "not_created") && Object.keys(state.steps).length > 0) {
      emit({ kind: "notice", text: "some nodes are new (destroyed outside homelab?): bootstrapping from the start" });
      state = undefined;
    }
    const vmsStarted = Date.now();
    const up = await vagrant.up();
    if (up.cancelled || req.cancel.count > 0) throw new CancelledError("cancelled while the VMs came up: `homelab cluster up` again continues, `down` removes them");
    if (up.code !== 0) throw new JobError(`vagrant up failed (exit ${up.code}); its output is in ${join(dir, UP_LOG)}`, { details: lastLines(up.stderr || up.stdout).split("\n") });
    phases.vms = (Date.now() - vmsStarted) / 1000;
    emit({ kind: "phase", phase: "vms", seconds: phases.vms });
  }
  state ??= newState(t);
  await writeState(dir, state);

  const sshConfig = join(dir, SSH_CONFIG);
  const cfg = await vagrant.sshConfig();
  if (cfg.cancelled) throw new CancelledError("cancelled");
  if (cfg.code !== 0) throw new JobError("vagrant ssh-config failed", { details: lastLines(cfg.stderr).split("\n") });
  await writeFile(sshConfig, cfg.stdout, { mode: 0o600 });
  await chmod(sshConfig, 0o600);

  const shell = new NodeShell(dir, sshConfig, { cancel: req.cancel, ...(req.env ? { env: req.env } : {}) });
  const k8s = req.config.k8s!;
  const bootPhases = await bootstrap({
    dir,
    state: state as ClusterState,
    shell,
    kubeadm: { kubernetesVersion: k8s.version, cgroupDriver: req.config.family === "debian" ? "systemd" : "cgroupfs" },
    kubeconfigPath: kubeconfig,
    cancel: req.cancel,
    readyTimeoutMs: req.readyTimeoutMs ?? 15 * 60_000,
    onStep: (step, what) => emit({ kind: "step", step, what }),
    onNotice: (text) => emit({ kind: "notice", text }),
  });
  for (const [phase, seconds] of Object.entries(bootPhases) as Array<[Phase, number]>) {
    phases[phase] = seconds;
    emit({ kind: "phase", phase, seconds });
  }
  state.phases = { ...state.phases, ...phases };
  await writeState(dir, state);
  return { dir, box, accel, topology: t, kubeconfig, unchanged: false, phases, totalSeconds: (Date.now() - started) / 1000 };
}
