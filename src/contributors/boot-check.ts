import { ref } from "../bundle/hcl-value.js";
import type { Contributor } from "./contributor.js";
import { addScriptStep } from "./script-step.js";

/** Bounds the whole check: under TCG a control plane takes minutes to come up. */
const BOOT_CHECK_TIMEOUT = "60m";

/**
 * Boots Kubernetes once inside the build, offline, and takes it down again without a trace
 * (assets/scripts/steps/boot.sh): the image is proven to start a cluster from what it holds,
 * before a user's cluster is the first to find out it does not. After node-verify (which checks
 * the image as it will ship), before sysprep. `k8s.bootCheck` (on by default with bake airgap).
 */
export const bootCheck: Contributor = {
  name: "boot-check",
  order: 88,
  appliesTo: (config) => config.k8s?.bootCheck === true,
  contribute(bundle, config, context) {
    // var.k8s_distribution comes from node-verify (order 80), which every k8s node has.
    addScriptStep(bundle, config, context, {
      step: "k8s-boot-check",
      contributor: "boot-check",
      timeout: BOOT_CHECK_TIMEOUT,
      env: { K8S_DISTRIBUTION: ref("var.k8s_distribution") },
    });
  },
};
