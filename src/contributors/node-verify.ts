import { ref, type HclRef } from "../bundle/hcl-value.js";
import type { Contributor } from "./contributor.js";
import { bakedCni, distributionOf } from "./k8s-node.js";
import { addScriptStep } from "./script-step.js";

/**
 * Checks the node inside the build and fails the build when anything is wrong: an image that
 * boots but cannot join a cluster is worse than no image. Runs after everything that changes
 * the node and before sysprep.
 */
export const nodeVerify: Contributor = {
  name: "node-verify",
  order: 80,
  appliesTo: (config) => config.k8s !== undefined,
  contribute(bundle, config, context) {
    const distribution = distributionOf(config);
    bundle.addVariable(
      "k8s_distribution",
      { type: "string", description: "Kubernetes distribution the node carries." },
      distribution,
    );
    const env: Record<string, HclRef> = {
      K8S_DISTRIBUTION: ref("var.k8s_distribution"),
      K8S_BAKE: ref("var.k8s_bake"),
      ARCH: ref("var.arch"),
    };
    if (distribution === "kubeadm") {
      env.K8S_VERSION = ref("var.k8s_version");
      env.PAUSE_IMAGE = ref("var.pause_image");
      env.CNI = ref("var.cni");
      if (bakedCni(config) !== "none") env.CNI_MANIFEST_SHA256 = ref("var.cni_manifest_sha256");
      // The variables k8s-node added with the pinned runtime (Debian): the versions must match.
      if (config.k8s?.runtime !== undefined) {
        env.CONTAINERD_VERSION = ref("var.containerd_version");
        env.RUNC_VERSION = ref("var.runc_version");
      }
    } else {
      env.K3S_VERSION = ref("var.k3s_version");
    }
    addScriptStep(bundle, config, context, { step: "node-verify", contributor: "node-verify", env });
  },
};
