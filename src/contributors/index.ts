import { baseOs } from "./base-os.js";
import { bootCheck } from "./boot-check.js";
import type { Contributor } from "./contributor.js";
import { k8sNode } from "./k8s-node.js";
import { nodeVerify } from "./node-verify.js";
import { sysprep } from "./sysprep.js";

/** homelab's own contributors. Add yours with `buildBundle(config, [...defaultContributors(), mine])`. */
export function defaultContributors(): Contributor[] {
  return [baseOs, k8sNode, nodeVerify, bootCheck, sysprep];
}

export { baseOs, bootCheck, k8sNode, nodeVerify, sysprep };
