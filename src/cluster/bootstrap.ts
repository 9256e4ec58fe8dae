/**
 * Runs the plan (plan.ts) over SSH, step by step, recording each step in the state file before
 * and after it: a failed or cancelled `up` resumes at the step that did not finish, and a
 * kubeadm step that was started before is undone first (`kubeadm reset -f`: init and join refuse
 * to run over a half-done attempt).
 */
import { writeFileAtomic } from "../fs/atomic-write.js";
import { CancelledError, JobError } from "../errors.js";
import type { CancelRequest } from "../packer/cancel.js";
import { parseCidr } from "./addresses.js";
import { caCertHash, factsScript, ifaceWith, imagesListing, kubeconfigWithServer, parseFacts, parseNodeRows } from "./node-output.js";
import type { NodeShell } from "./node-shell.js";
import {
  ADMIN_CONF, API_PORT, BAKED_FLANNEL, DEFAULT_POD_CIDR, FLANNEL_FILE, K3S_CONFIG_FILE, K3S_KUBECONFIG, KUBEADM_INIT_FILE, KUBEADM_JOIN_FILE,
  firstControlPlane, flannelManifest, k3sConfig, k3sRole, kubeadmInitCommand, kubeadmInitConfig, kubeadmJoinCommand, kubeadmJoinConfig, planSteps,
  type KubeadmSettings, type Phase, type Step,
} from "./plan.js";
import { shellLine } from "./process.js";
import { writeState, type ClusterState } from "./state.js";
import type { ClusterNode, Topology } from "./topology.js";
import { chmod } from "node:fs/promises";
import type { ProcessResult } from "./process.js";

export interface BootstrapOptions {
  dir: string;
  state: ClusterState;
  shell: NodeShell;
  kubeadm: Omit<KubeadmSettings, "podSubnet">;
  /** Where the kubeconfig goes (beside the Vagrantfile). */
  kubeconfigPath: string;
  cancel: CancelRequest;
  readyTimeoutMs: number;
  onStep?: (step: Step, what: "start" | "done" | "resume") => void;
  onNotice?: (text: string) => void;
}

export const IMAGES_KUBEADM = "crictl images -q";
export const IMAGES_K3S = "k3s crictl images -q";

/** Runs every step not done yet; returns the seconds spent per phase in this run. */
export async function bootstrap(o: BootstrapOptions): Promise<Partial<Record<Phase, number>>> {
  const t = o.state.topology;
  const phases: Partial<Record<Phase, number>> = {};
  const steps = planSteps(t);
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (o.state.steps[step.id] === "done") continue;
    // A run of worker joins goes together.
    const group = step.parallelGroup === undefined ? [step] : steps.slice(i).filter((s) => s.parallelGroup === step.parallelGroup && o.state.steps[s.id] !== "done");
    if (group.length > 1) i = steps.indexOf(group.at(-1)!);
    const started = Date.now();
    await Promise.all(group.map((s) => runStep(o, s)));
    phases[step.phase] = (phases[step.phase] ?? 0) + (Date.now() - started) / 1000;
  }
  return phases;
}

async function runStep(o: BootstrapOptions, step: Step): Promise<void> {
  if (o.cancel.count > 0) throw new CancelledError("cancelled: the cluster is left as it is; `up` again resumes");
  const resumed = o.state.steps[step.id] === "started";
  o.onStep?.(step, resumed ? "resume" : "start");
  o.state.steps[step.id] = "started";
  await writeState(o.dir, o.state);
  await STEPS[step.id.split(":")[0] as StepKind](o, step, resumed);
  o.state.steps[step.id] = "done";
  await writeState(o.dir, o.state);
  o.onStep?.(step, "done");
}

type StepKind = "facts" | "init" | "cni" | "join" | "kubeconfig" | "ready" | "images";

const STEPS: Record<StepKind, (o: BootstrapOptions, step: Step, resumed: boolean) => Promise<void>> = {
  facts: factsStep,
  init: async (o, _step, resumed) => {
    const t = o.state.topology;
    const cp = firstControlPlane(t);
    if (t.distribution === "k3s") return k3sNode(o, cp);
    if (resumed) await must(o, cp, "kubeadm reset -f", "kubeadm reset (undoing the init that did not finish)");
    const config = kubeadmInitConfig(t, o.state.secrets, { ...o.kubeadm, podSubnet: o.state.podSubnet ?? DEFAULT_POD_CIDR });
    await mustWrite(o, cp, KUBEADM_INIT_FILE, config);
    await must(o, cp, shellLine(kubeadmInitCommand(t)), "kubeadm init");
    const ca = await must(o, cp, "cat /etc/kubernetes/pki/ca.crt", "reading the cluster CA");
    try {
      o.state.caCertHash = caCertHash(ca.stdout);
    } catch (err) {
      throw new JobError(`${cp.name}: /etc/kubernetes/pki/ca.crt is not a certificate: ${(err as Error).message}`);
    }
  },
  cni: async (o) => {
    const t = o.state.topology;
    const cp = firstControlPlane(t);
    const baked = await o.shell.run(cp.name, `cat ${BAKED_FLANNEL}`);
    if (baked.cancelled) throw cancelled();
    if (baked.code !== 0) {
      throw new JobError(`${cp.name}: the box has no CNI manifest at ${BAKED_FLANNEL}; a kubeadm cluster needs the flannel the box carries (build a box with it)`);
    }
    const manifest = flannelManifest(baked.stdout, t, o.state.podSubnet ?? DEFAULT_POD_CIDR);
    if (typeof manifest !== "string") throw new JobError(`${cp.name}: ${BAKED_FLANNEL}: ${manifest.problem}`);
    await mustWrite(o, cp, FLANNEL_FILE, manifest);
    await must(o, cp, shellLine(["kubectl", "--kubeconfig", ADMIN_CONF, "apply", "-f", FLANNEL_FILE]), "applying the CNI (flannel)");
  },
  join: async (o, step, resumed) => {
    const t = o.state.topology;
    const node = nodeNamed(t, step.nodes[0]!);
    if (t.distribution === "k3s") return k3sNode(o, node);
    if (o.state.caCertHash === undefined) throw new JobError("the state file has no CA hash although init is done; `homelab cluster down` and up again");
    if (resumed) await must(o, node, "kubeadm reset -f", "kubeadm reset (undoing the join that did not finish)");
    await mustWrite(o, node, KUBEADM_JOIN_FILE, kubeadmJoinConfig(t, node, o.state.secrets, o.state.caCertHash));
    await must(o, node, shellLine(kubeadmJoinCommand()), "kubeadm join");
  },
  kubeconfig: async (o) => {
    const t = o.state.topology;
    const cp = firstControlPlane(t);
    const source = t.distribution === "k3s" ? K3S_KUBECONFIG : ADMIN_CONF;
    const r = await must(o, cp, `cat ${source}`, `reading ${source}`, { secretOutput: true });
    const text = kubeconfigWithServer(r.stdout, `https://${cp.ip}:${API_PORT}`);
    if (typeof text !== "string") throw new JobError(`${cp.name}: ${source}: ${text.problem}`);
    await writeFileAtomic(o.kubeconfigPath, "");
    await chmod(o.kubeconfigPath, 0o600);
    await writeFileAtomic(o.kubeconfigPath, text);
  },
  ready: async (o) => {
    const t = o.state.topology;
    const cp = firstControlPlane(t);
    const kubectl = t.distribution === "k3s" ? "k3s kubectl" : `kubectl --kubeconfig ${ADMIN_CONF}`;
    const deadline = Date.now() + o.readyTimeoutMs;
    let last = "";
    for (;;) {
      const r = await o.shell.run(cp.name, `${kubectl} get nodes -o wide --no-headers`);
      if (r.cancelled) throw cancelled();
      const rows = parseNodeRows(r.stdout);
      for (const row of rows) {
        const node = t.nodes.find((n) => n.name === row.name);
        // A kubelet on the wrong address would work until pods on two nodes talk: stop here.
        if (node !== undefined && row.internalIp !== node.ip) {
          throw new JobError(`${row.name} registered with the address ${row.internalIp}, not its private address ${node.ip}`);
        }
      }
      const notReady = t.nodes.filter((n) => !rows.some((row) => row.name === n.name && row.status === "Ready"));
      if (r.code === 0 && notReady.length === 0) return;
      last = r.code === 0 ? `not Ready: ${notReady.map((n) => n.name).join(", ")}` : (r.stderr.trim().split("\n").at(-1) ?? "");
      if (Date.now() > deadline) throw new JobError(`the nodes were not Ready within ${Math.round(o.readyTimeoutMs / 1000)} s (${last})`);
      await sleep(5000, o.cancel);
    }
  },
  images: async (o) => {
    const t = o.state.topology;
    const command = t.distribution === "k3s" ? IMAGES_K3S : IMAGES_KUBEADM;
    const pulled: string[] = [];
    await Promise.all(
      t.nodes.map(async (node) => {
        const r = await must(o, node, imagesListing(command), "listing the images");
        const facts = parseFacts(r.stdout);
        if (facts.images === undefined) throw new JobError(`${node.name}: \`${command}\` failed: the air-gap check cannot see the image store`);
        const before = new Set(o.state.imagesBefore[node.name] ?? []);
        const added = facts.images.filter((i) => !before.has(i));
        if (added.length > 0) pulled.push(`${node.name}: ${added.join(", ")}`);
      }),
    );
    if (pulled.length > 0) {
      throw new JobError("images were pulled during the bootstrap: the box does not carry everything the cluster needs (air-gap broken)", { details: pulled });
    }
  },
};

async function factsStep(o: BootstrapOptions): Promise<void> {
  const t = o.state.topology;
  const problems: string[] = [];
  const management = new Map<string, string>();
  await Promise.all(
    t.nodes.map(async (node) => {
      const r = await must(o, node, factsScript(t, node, t.distribution === "kubeadm" ? IMAGES_KUBEADM : undefined), "collecting the node's facts");
      const f = parseFacts(r.stdout);
      const iface = ifaceWith(f, node.ip);
      if (f.hostname !== node.name) problems.push(`${node.name}: its host name is ${JSON.stringify(f.hostname)}, expected ${node.name}`);
      if (iface === undefined) {
        problems.push(`${node.name}: no interface has its private address ${node.ip} (${[...f.addresses].map(([i, a]) => `${i} ${a.join(" ")}`).join("; ")})`);
      } else if (iface === f.defaultIface) {
        problems.push(`${node.name}: its private address ${node.ip} is on ${iface}, the interface of the default route (the management network's)`);
      }
      for (const ip of f.unreachable) problems.push(`${node.name}: cannot reach ${ip} on the private network`);
      if (t.distribution === "kubeadm") {
        if (f.images === undefined) problems.push(`${node.name}: \`${IMAGES_KUBEADM}\` failed: the air-gap check cannot see the image store`);
        else o.state.imagesBefore[node.name] = f.images;
      }
      const mgmtAddr = f.addresses.get(f.defaultIface)?.[0];
      if (mgmtAddr !== undefined) management.set(node.name, mgmtAddr);
      o.state.facts[node.name] = { hostname: f.hostname, iface: iface ?? "", defaultIface: f.defaultIface };
      if (node === firstControlPlane(t) && f.podCidr !== undefined) {
        const c = parseCidr(f.podCidr);
        if ("problem" in c) problems.push(`${node.name}: /etc/homelab/cni/pod-cidr is ${JSON.stringify(f.podCidr)}, expected ${c.problem}`);
        else o.state.podSubnet = f.podCidr;
      }
    }),
  );
  // Two nodes with one management address: clones of a box that kept its DHCP client identity.
  const byAddress = new Map<string, string[]>();
  for (const [name, addr] of management) byAddress.set(addr, [...(byAddress.get(addr) ?? []), name]);
  for (const [addr, names] of byAddress) {
    if (names.length > 1) problems.push(`${names.join(", ")}: one management address ${addr} (the box's clones share a DHCP client identity)`);
  }
  if (problems.length > 0) throw new JobError("the nodes' network is not what the cluster needs", { details: problems.sort() });
}

/** A k3s node: its config.yaml, its role, the service (re)started; then its image store as k3s imported it. */
async function k3sNode(o: BootstrapOptions, node: ClusterNode): Promise<void> {
  const t = o.state.topology;
  const iface = o.state.facts[node.name]?.iface;
  if (!iface) throw new JobError(`${node.name}: no private interface recorded (the facts step did not finish)`);
  await mustWrite(o, node, K3S_CONFIG_FILE, k3sConfig(t, node, o.state.secrets, iface));
  await must(o, node, `sed -i 's/^K3S_EXEC=.*/K3S_EXEC=${k3sRole(node)}/' /etc/default/k3s && systemctl restart k3s`, `starting k3s ${k3sRole(node)}`);
  // k3s imports the box's air-gap images before its kubelet starts: from here on, nothing may be pulled.
  const r = await must(o, node, imagesListing(IMAGES_K3S), "listing the images");
  const images = parseFacts(r.stdout).images;
  if (images === undefined) throw new JobError(`${node.name}: \`${IMAGES_K3S}\` failed: the air-gap check cannot see the image store`);
  o.state.imagesBefore[node.name] = images;
}

async function must(o: BootstrapOptions, node: ClusterNode, script: string, what: string, opts: { secretOutput?: boolean } = {}): Promise<ProcessResult> {
  const r = await o.shell.run(node.name, script, undefined, opts);
  if (r.cancelled) throw cancelled();
  if (r.code !== 0) {
    throw new JobError(`${node.name}: ${what} failed (exit ${r.code})`, { details: (r.stderr || r.stdout).trim().split("\n").slice(-12) });
  }
  return r;
}

async function mustWrite(o: BootstrapOptions, node: ClusterNode, path: string, content: string): Promise<void> {
  const r = await o.shell.writeFile(node.name, path, content);
  if (r.cancelled) throw cancelled();
  if (r.code !== 0) throw new JobError(`${node.name}: writing ${path} failed (exit ${r.code})`, { details: r.stderr.trim().split("\n").slice(-5) });
}

function nodeNamed(t: Topology, name: string): ClusterNode {
  const n = t.nodes.find((x) => x.name === name);
  if (n === undefined) throw new Error(`no node ${name}`);
  return n;
}

function cancelled(): CancelledError {
  return new CancelledError("cancelled: the step that was running is redone on the next `up`");
}

function sleep(ms: number, cancel: CancelRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = cancel.onRequest(() => {
      clearTimeout(timer);
      stop();
      reject(cancelled());
    });
    const timer = setTimeout(() => {
      stop();
      resolve();
    }, ms);
  });
}
