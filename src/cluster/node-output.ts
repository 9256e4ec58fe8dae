/**
 * Reading what the nodes answer: the facts script, `kubectl get nodes -o wide`, the cluster CA,
 * an admin kubeconfig. Pure functions over text, so each format is tested on its own.
 */
import { createHash, X509Certificate } from "node:crypto";
import { parseDocument } from "yaml";
import type { ClusterNode, Topology } from "./topology.js";
import { BAKED_POD_CIDR } from "./plan.js";
import { shq } from "./process.js";

/** The script the facts step runs on a node: one `key=value` line per fact. */
export function factsScript(t: Topology, node: ClusterNode, imagesCommand: string | undefined): string {
  const others = t.nodes.filter((n) => n !== node).map((n) => n.ip);
  return [
    'echo "hostname=$(hostname)"',
    // `ip -o` prints one line per address: "<index>: <ifname>    inet <addr>/<len> ...".
    `ip -o -4 addr show | awk '{ print "addr=" $2 " " $4 }'`,
    `ip -4 route show default | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print "default=" $(i + 1); exit } }'`,
    `if [ -r ${BAKED_POD_CIDR} ]; then echo "podcidr=$(cat ${BAKED_POD_CIDR})"; fi`,
    // TCP to each other node's sshd on its private address: the private network carries traffic.
    ...others.map((ip) => `if timeout 10 bash -c ${shq(`exec 3<>/dev/tcp/${ip}/22`)} 2>/dev/null; then echo "reach=${ip} yes"; else echo "reach=${ip} no"; fi`),
    ...(imagesCommand === undefined ? [] : [imagesListing(imagesCommand)]),
  ].join("\n");
}

/** Image IDs, one `image=` line each, then `images=ok` (or `images=failed`: no listing at all). */
export function imagesListing(imagesCommand: string): string {
  return `if out=$(${imagesCommand}); then printf '%s\\n' "$out" | awk 'NF { print "image=" $1 }'; echo images=ok; else echo images=failed; fi`;
}

export interface ParsedFacts {
  hostname: string;
  /** Interface → IPv4 addresses (without the prefix length). */
  addresses: Map<string, string[]>;
  defaultIface: string;
  podCidr?: string;
  unreachable: string[];
  images?: string[];
}

export function parseFacts(output: string): ParsedFacts {
  const facts: ParsedFacts = { hostname: "", addresses: new Map(), defaultIface: "", unreachable: [] };
  const images: string[] = [];
  let imagesOk: boolean | undefined;
  for (const line of output.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (key === "hostname") facts.hostname = value;
    else if (key === "addr") {
      const [iface, addr] = value.split(" ");
      if (iface && addr) facts.addresses.set(iface, [...(facts.addresses.get(iface) ?? []), addr.split("/")[0]!]);
    } else if (key === "default") facts.defaultIface = value;
    else if (key === "podcidr") facts.podCidr = value;
    else if (key === "reach" && value.endsWith(" no")) facts.unreachable.push(value.split(" ")[0]!);
    else if (key === "image") images.push(value);
    else if (key === "images") imagesOk = value === "ok";
  }
  if (imagesOk) facts.images = images.sort();
  return facts;
}

/** The interface that holds `ip` (the private address): chosen by address, never by a name like eth1. */
export function ifaceWith(facts: ParsedFacts, ip: string): string | undefined {
  for (const [iface, addrs] of facts.addresses) if (addrs.includes(ip)) return iface;
  return undefined;
}

export interface NodeRow {
  name: string;
  status: string;
  internalIp: string;
}

/**
 * `kubectl get nodes -o wide --no-headers`: NAME STATUS ROLES AGE VERSION INTERNAL-IP
 * EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME (OS-IMAGE has spaces, so only the first
 * six columns are read).
 */
export function parseNodeRows(output: string): NodeRow[] {
  return output
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((cols) => cols.length >= 6 && cols[0] !== "NAME")
    .map((cols) => ({ name: cols[0]!, status: cols[1]!, internalIp: cols[5]! }));
}

/**
 * kubeadm's `--discovery-token-ca-cert-hash`: "sha256:" and the SHA-256 of the CA certificate's
 * Subject Public Key Info (DER), what `kubeadm token create --print-join-command` prints.
 */
export function caCertHash(pem: string): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

/** A kubeconfig whose every cluster's server is `server` (the private API address). */
export function kubeconfigWithServer(text: string, server: string): string | { problem: string } {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return { problem: `not YAML: ${doc.errors[0]!.message.split("\n")[0]}` };
  const clusters = doc.get("clusters");
  const list = (clusters as { items?: unknown[] } | undefined)?.items;
  if (!Array.isArray(list) || list.length === 0) return { problem: "no clusters in it" };
  for (const item of list) {
    const c = item as { getIn(path: string[]): unknown; setIn(path: string[], v: unknown): void };
    if (typeof c.getIn?.(["cluster", "server"]) !== "string") return { problem: "a cluster without a server" };
    c.setIn(["cluster", "server"], server);
  }
  return doc.toString();
}
