import type { Config, Distribution } from "../config/schema.js";
import { cidr, netmask, nodeAddress } from "./addresses.js";

export type Role = "control-plane" | "worker";

/** One node of the cluster, as Vagrant defines it and the bootstrap addresses it. */
export interface ClusterNode {
  /** Vagrant machine name, host name and Kubernetes node name: `<cluster>-cp1`, `<cluster>-w1`. */
  name: string;
  role: Role;
  /** Its address on the private network: the one every Kubernetes component must use. */
  ip: string;
  cpus: number;
  memoryMiB: number;
}

/** What `homelab cluster up` makes, derived from the config alone (no I/O). */
export interface Topology {
  name: string;
  distribution: Distribution;
  /** The private network, e.g. 192.168.56.0/24, and its netmask. */
  network: string;
  netmask: string;
  /** Control planes first (the first one initialises the cluster), then workers. */
  nodes: ClusterNode[];
}

/** The nodes of the config's cluster section, each with its deterministic private address. */
export function topologyOf(config: Config): Topology {
  const c = config.cluster;
  if (c === undefined || config.k8s === undefined) throw new Error("topologyOf: the config has no cluster or no k8s section (the loader checks both)");
  const net = cidr(c.network);
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < c.controlPlanes; i++) {
    nodes.push({ name: `${c.name}-cp${i + 1}`, role: "control-plane", ip: nodeAddress(net, nodes.length), cpus: c.controlPlane.cpus, memoryMiB: c.controlPlane.memoryMiB });
  }
  for (let i = 0; i < c.workers; i++) {
    nodes.push({ name: `${c.name}-w${i + 1}`, role: "worker", ip: nodeAddress(net, nodes.length), cpus: c.worker.cpus, memoryMiB: c.worker.memoryMiB });
  }
  return { name: c.name, distribution: config.k8s.distribution, network: c.network, netmask: netmask(net.prefix), nodes };
}

export function controlPlanes(t: Topology): ClusterNode[] {
  return t.nodes.filter((n) => n.role === "control-plane");
}

export function workers(t: Topology): ClusterNode[] {
  return t.nodes.filter((n) => n.role === "worker");
}
