/**
 * The bootstrap as data: which step runs on which node, and the exact files and commands each
 * one sends. Pure functions (no SSH, no clock): the tests read the plan, the runner executes it.
 *
 * Where every Kubernetes component learns the node's PRIVATE address (never the management one,
 * which holds the default route and would otherwise win; kubernetes#33618, kubeadm#593):
 *
 * kubeadm (config API kubeadm.k8s.io/v1beta4):
 *   InitConfiguration.localAPIEndpoint.advertiseAddress   the API server's address (first control plane)
 *   ClusterConfiguration.controlPlaneEndpoint              what every node and the kubeconfig dial
 *   nodeRegistration.kubeletExtraArgs node-ip              each kubelet's InternalIP (v1beta4: a name/value list)
 *   JoinConfiguration.controlPlane.localAPIEndpoint        each further control plane's API server and etcd
 *   flannel --iface=<address>, once per node               flanneld takes the first of them it has (IP or name)
 * k3s (/etc/rancher/k3s/config.yaml, keys are the CLI flags without `--`):
 *   node-ip, advertise-address, flannel-iface, node-name; agents: server (URL) and token.
 */
import type { ClusterNode, Topology } from "./topology.js";
import { controlPlanes, workers } from "./topology.js";

export const API_PORT = 6443;
/** Where homelab keeps the files it sends to a node (root only: they hold join secrets). */
export const NODE_DIR = "/etc/homelab/cluster";
export const KUBEADM_INIT_FILE = `${NODE_DIR}/kubeadm-init.yaml`;
export const KUBEADM_JOIN_FILE = `${NODE_DIR}/kubeadm-join.yaml`;
export const FLANNEL_FILE = `${NODE_DIR}/kube-flannel.yml`;
export const K3S_CONFIG_FILE = "/etc/rancher/k3s/config.yaml";
/** What the box carries for the CNI (the box's cni part writes both). */
export const BAKED_FLANNEL = "/etc/homelab/cni/kube-flannel.yml";
export const BAKED_POD_CIDR = "/etc/homelab/cni/pod-cidr";
export const DEFAULT_POD_CIDR = "10.244.0.0/16";
export const KUBEADM_SERVICE_CIDR = "10.96.0.0/12";
export const CRI_SOCKET = "unix:///run/containerd/containerd.sock";
export const ADMIN_CONF = "/etc/kubernetes/admin.conf";
export const K3S_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml";

/** Secrets made once per cluster by homelab (kept in the state file, mode 0600). */
export interface Secrets {
  /** kubeadm bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}; for k3s the shared token. */
  token: string;
  /** kubeadm --certificate-key: 32 bytes as 64 hex digits (HA control planes only). */
  certificateKey: string;
}

/** What kind of work a step is, and which phase's time it counts in. */
export type Phase = "facts" | "init" | "joins" | "ready";

export interface Step {
  /** Stable id, kept in the state file: `facts`, `init`, `cni`, `join:<node>`, `kubeconfig`, `ready`, `images`. */
  id: string;
  phase: Phase;
  /** Nodes it runs on (one, or all for facts/images). */
  nodes: string[];
  /** Steps whose nodes may run at the same time (worker joins); the rest run one at a time. */
  parallelGroup?: string;
}

/**
 * The steps in order. Control planes join one at a time (each grows etcd by one member, which
 * must be in quorum before the next); workers join together once the control planes are there.
 */
export function planSteps(t: Topology): Step[] {
  const [first, ...otherCps] = controlPlanes(t);
  if (first === undefined) throw new Error("a cluster has at least one control plane");
  const all = t.nodes.map((n) => n.name);
  const steps: Step[] = [{ id: "facts", phase: "facts", nodes: all }];
  steps.push({ id: "init", phase: "init", nodes: [first.name] });
  if (t.distribution === "kubeadm") steps.push({ id: "cni", phase: "init", nodes: [first.name] });
  for (const cp of otherCps) steps.push({ id: `join:${cp.name}`, phase: "joins", nodes: [cp.name] });
  for (const w of workers(t)) steps.push({ id: `join:${w.name}`, phase: "joins", nodes: [w.name], parallelGroup: "workers" });
  steps.push({ id: "kubeconfig", phase: "ready", nodes: [first.name] });
  steps.push({ id: "ready", phase: "ready", nodes: [first.name] });
  steps.push({ id: "images", phase: "ready", nodes: all });
  return steps;
}

export function firstControlPlane(t: Topology): ClusterNode {
  return controlPlanes(t)[0]!;
}

/** The address every node and the kubeconfig use for the API: the first control plane's. */
export function apiEndpoint(t: Topology): string {
  return `${firstControlPlane(t).ip}:${API_PORT}`;
}

export interface KubeadmSettings {
  kubernetesVersion: string;
  cgroupDriver: "systemd" | "cgroupfs";
  podSubnet: string;
}

/** `kubeadm init --config` for the first control plane: InitConfiguration, ClusterConfiguration, KubeletConfiguration. */
export function kubeadmInitConfig(t: Topology, secrets: Secrets, s: KubeadmSettings): string {
  const cp = firstControlPlane(t);
  const ha = controlPlanes(t).length > 1;
  return [
    "# Written by homelab cluster up: kubeadm init --config this file.",
    "apiVersion: kubeadm.k8s.io/v1beta4",
    "kind: InitConfiguration",
    "bootstrapTokens:",
    `- token: ${q(secrets.token)}`,
    '  ttl: "24h0m0s"',
    "  usages: [signing, authentication]",
    "  groups: [system:bootstrappers:kubeadm:default-node-token]",
    ...(ha ? [`certificateKey: ${q(secrets.certificateKey)}`] : []),
    "localAPIEndpoint:",
    `  advertiseAddress: ${q(cp.ip)}`,
    `  bindPort: ${API_PORT}`,
    ...nodeRegistration(cp),
    "---",
    "apiVersion: kubeadm.k8s.io/v1beta4",
    "kind: ClusterConfiguration",
    `clusterName: ${q(t.name)}`,
    `kubernetesVersion: ${q(s.kubernetesVersion)}`,
    `controlPlaneEndpoint: ${q(apiEndpoint(t))}`,
    "apiServer:",
    `  certSANs: [${controlPlanes(t).map((n) => q(n.ip)).join(", ")}]`,
    "networking:",
    `  podSubnet: ${q(s.podSubnet)}`,
    `  serviceSubnet: ${q(KUBEADM_SERVICE_CIDR)}`,
    "---",
    "apiVersion: kubelet.config.k8s.io/v1beta1",
    "kind: KubeletConfiguration",
    `cgroupDriver: ${s.cgroupDriver}`,
    "",
  ].join("\n");
}

/** `kubeadm join --config` for a further control plane or a worker. */
export function kubeadmJoinConfig(t: Topology, node: ClusterNode, secrets: Secrets, caCertHash: string): string {
  return [
    "# Written by homelab cluster up: kubeadm join --config this file.",
    "apiVersion: kubeadm.k8s.io/v1beta4",
    "kind: JoinConfiguration",
    "discovery:",
    "  bootstrapToken:",
    `    apiServerEndpoint: ${q(apiEndpoint(t))}`,
    `    token: ${q(secrets.token)}`,
    `    caCertHashes: [${q(caCertHash)}]`,
    ...(node.role === "control-plane"
      ? ["controlPlane:", "  localAPIEndpoint:", `    advertiseAddress: ${q(node.ip)}`, `    bindPort: ${API_PORT}`, `  certificateKey: ${q(secrets.certificateKey)}`]
      : []),
    ...nodeRegistration(node),
    "",
  ].join("\n");
}

function nodeRegistration(node: ClusterNode): string[] {
  return [
    "nodeRegistration:",
    `  name: ${q(node.name)}`,
    `  criSocket: ${q(CRI_SOCKET)}`,
    "  kubeletExtraArgs:",
    "  - name: node-ip",
    `    value: ${q(node.ip)}`,
  ];
}

/** The command of the init step (--upload-certs puts the control-plane certificates in the cluster for the other control planes). */
export function kubeadmInitCommand(t: Topology): string[] {
  return ["kubeadm", "init", "--config", KUBEADM_INIT_FILE, ...(controlPlanes(t).length > 1 ? ["--upload-certs"] : [])];
}

export function kubeadmJoinCommand(): string[] {
  return ["kubeadm", "join", "--config", KUBEADM_JOIN_FILE];
}

/**
 * The baked flannel manifest with the node addresses as `--iface` (flanneld checks each in order
 * and takes the first one the node has: its private address) and the pod network set. Fails when
 * the manifest has no `--kube-subnet-mgr` argument to add them after (not a manifest homelab knows).
 */
export function flannelManifest(manifest: string, t: Topology, podSubnet: string): string | { problem: string } {
  const lines = manifest.split("\n");
  const at = lines.findIndex((l) => /^\s*- --kube-subnet-mgr\s*$/.test(l));
  if (at < 0) return { problem: "the flannel manifest has no `- --kube-subnet-mgr` container argument" };
  const indent = /^(\s*)-/.exec(lines[at]!)![1]!;
  const withoutIface = lines.filter((l) => !/^\s*- --iface(-regex|-can-reach)?=/.test(l));
  const at2 = withoutIface.findIndex((l) => /^\s*- --kube-subnet-mgr\s*$/.test(l));
  withoutIface.splice(at2 + 1, 0, ...t.nodes.map((n) => `${indent}- --iface=${n.ip}`));
  const text = withoutIface.join("\n");
  if (!/"Network":\s*"[0-9./]+"/.test(text)) return { problem: 'the flannel manifest has no net-conf.json "Network"' };
  return text.replace(/"Network":\s*"[0-9./]+"/, `"Network": "${podSubnet}"`);
}

/** /etc/rancher/k3s/config.yaml for a node (`iface`: the name of its interface with the private address). */
export function k3sConfig(t: Topology, node: ClusterNode, secrets: Secrets, iface: string): string {
  const first = firstControlPlane(t);
  const ha = controlPlanes(t).length > 1;
  const lines = ["# Written by homelab cluster up (k3s reads it at start; keys are its flags without --).", `node-name: ${q(node.name)}`, `node-ip: ${q(node.ip)}`, `flannel-iface: ${q(iface)}`, `token: ${q(secrets.token)}`];
  if (node.role === "control-plane") {
    lines.push(`advertise-address: ${q(node.ip)}`, `tls-san: [${q(node.ip)}]`, 'write-kubeconfig-mode: "0600"');
    if (node === first) {
      if (ha) lines.push("cluster-init: true");
    } else {
      lines.push(`server: ${q(`https://${apiEndpoint(t)}`)}`);
    }
  } else {
    lines.push(`server: ${q(`https://${apiEndpoint(t)}`)}`);
  }
  return `${lines.join("\n")}\n`;
}

export function k3sRole(node: ClusterNode): "server" | "agent" {
  return node.role === "control-plane" ? "server" : "agent";
}

/** A YAML double-quoted scalar (values are validated already; this keeps them inert anyway). */
function q(s: string): string {
  return JSON.stringify(s);
}
