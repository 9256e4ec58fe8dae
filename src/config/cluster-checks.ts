import { fits, hostCount, overlaps, parseCidr, cidr, reservedNetworks, FIRST_HOST } from "../cluster/addresses.js";
import type { ConfigProblem } from "./load.js";
import type { Config } from "./schema.js";
import type { SourceMap } from "./source-map.js";

/** The cluster section's rules that span fields: the network, the box and the Kubernetes section. */
export function clusterProblems(config: Config, map: SourceMap): ConfigProblem[] {
  const c = config.cluster;
  if (c === undefined) return [];
  const problems: ConfigProblem[] = [];
  const at = (path: string[], message: string) => problems.push({ ...map.locate(path), path: path.join("."), message });
  if (config.k8s === undefined) {
    at(["cluster"], "expected a k8s section with a cluster (the box must be a Kubernetes node: kubeadm or k3s)");
  }
  const net = parseCidr(c.network);
  if ("problem" in net) {
    at(["cluster", "network"], `expected ${net.problem}, got ${JSON.stringify(c.network)}`);
  } else {
    const nodes = c.controlPlanes + c.workers;
    if (!fits(net, nodes)) {
      at(
        ["cluster", "network"],
        `expected room for ${nodes} node addresses from .${FIRST_HOST} on, got ${c.network} (${hostCount(net)} host addresses): choose a larger network`,
      );
    }
    for (const r of reservedNetworks(config.k8s?.distribution)) {
      if (overlaps(net, cidr(r.cidr))) {
        at(["cluster", "network"], `expected a network clear of ${r.cidr} (${r.what}), got ${c.network}, which overlaps it`);
      }
    }
  }
  if (c.box !== undefined && c.registry === undefined) {
    at(["cluster", "box"], "expected a registry URL with box (cluster.registry: the catalog server that has it)");
  }
  if (c.registry !== undefined && c.box === undefined) {
    at(["cluster", "registry"], "expected a box with registry (cluster.box: <org>/<name>@X.Y.Z); without both, the last build is used");
  }
  return problems;
}
