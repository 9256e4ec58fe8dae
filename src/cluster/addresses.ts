/**
 * IPv4 arithmetic for the cluster's private network: parsing a CIDR, the deterministic node
 * addresses, and the ranges a private network must not overlap (Vagrant's management network,
 * the pod and service networks of either distribution). Pure functions, no I/O.
 */

export interface Cidr {
  /** The network address as a 32-bit unsigned number. */
  base: number;
  prefix: number;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Smallest and largest prefix accepted for the private network (a /29 has 6 host addresses). */
export const MIN_PREFIX = 16;
export const MAX_PREFIX = 28;
/** The first node gets network + FIRST_HOST; below it, .1 is the host's end of the bridge. */
export const FIRST_HOST = 10;

export function parseCidr(text: string): Cidr | { problem: string } {
  const m = CIDR.exec(text);
  if (m === null) return { problem: "an IPv4 network like 192.168.56.0/24" };
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return { problem: "an IPv4 network like 192.168.56.0/24 (each part 0-255)" };
  const prefix = Number(m[5]);
  if (prefix < MIN_PREFIX || prefix > MAX_PREFIX) return { problem: `a prefix length from /${MIN_PREFIX} to /${MAX_PREFIX}` };
  const value = toNumber(octets);
  const base = (value & mask(prefix)) >>> 0;
  if (base !== value) return { problem: `the network address ${formatIp(base)}/${prefix} (the host bits must be zero)` };
  return { base, prefix };
}

export function formatIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

export function netmask(prefix: number): string {
  return formatIp(mask(prefix));
}

/** Usable host addresses in the network (not the network or broadcast address). */
export function hostCount(c: Cidr): number {
  return 2 ** (32 - c.prefix) - 2;
}

/** The address of node number `index` (0-based, control planes first, then workers). */
export function nodeAddress(c: Cidr, index: number): string {
  return formatIp(c.base + FIRST_HOST + index);
}

/** Whether `nodes` addresses fit, from network + FIRST_HOST up to the last host address. */
export function fits(c: Cidr, nodes: number): boolean {
  return FIRST_HOST + nodes - 1 <= hostCount(c);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/**
 * Networks a node's private network must stay clear of: if it overlapped one, a packet for a pod,
 * a service or the management network would leave through the wrong interface.
 */
export function reservedNetworks(distribution: "kubeadm" | "k3s" | undefined): Array<{ cidr: string; what: string }> {
  const common = [
    { cidr: "192.168.121.0/24", what: "vagrant-libvirt's management network" },
    { cidr: "10.0.2.0/24", what: "the NAT network of VirtualBox and qemu user networking" },
  ];
  if (distribution === "k3s") {
    return [...common, { cidr: "10.42.0.0/16", what: "k3s's pod network" }, { cidr: "10.43.0.0/16", what: "k3s's service network" }];
  }
  return [...common, { cidr: "10.244.0.0/16", what: "flannel's pod network" }, { cidr: "10.96.0.0/12", what: "kubeadm's service network" }];
}

/** Parses a CIDR known to be valid (one of homelab's own constants or an already checked value). */
export function cidr(text: string): Cidr {
  const c = parseCidrLoose(text);
  if (c === undefined) throw new Error(`not a CIDR: ${text}`);
  return c;
}

function parseCidrLoose(text: string): Cidr | undefined {
  const m = CIDR.exec(text);
  if (m === null) return undefined;
  const prefix = Number(m[5]);
  return { base: (toNumber(m.slice(1, 5).map(Number)) & mask(prefix)) >>> 0, prefix };
}

function toNumber(octets: number[]): number {
  return octets.reduce((n, o) => n * 256 + o, 0);
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}
