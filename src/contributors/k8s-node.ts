import { FLANNEL, PAUSE_IMAGE_BY_MINOR } from "../config/defaults.js";
import type { Config } from "../config/schema.js";
import { archOf } from "../os/index.js";
import type { PackerBundle } from "../bundle/bundle.js";
import { ref, type HclRef } from "../bundle/hcl-value.js";
import type { ContributeContext, Contributor } from "./contributor.js";
import { addScriptStep } from "./script-step.js";

const NAME = "k8s-node";
/** BusyBox wget has no working timeout option (-T crashes 1.35), so Packer bounds the step. */
const DOWNLOAD_TIMEOUT = "30m";

/** Kubernetes minor of a `v1.X.Y` or `v1.X.Y+k3sN` version. */
export function k8sMinor(version: string): number {
  const minor = /^v1\.(\d+)\./.exec(version)?.[1];
  if (minor === undefined) throw new Error(`not a Kubernetes version: ${version}`);
  return Number(minor);
}

/** The pause image kubeadm expects for a version (the config loader rejects unknown minors). */
export function pauseImageFor(version: string): string {
  const image = PAUSE_IMAGE_BY_MINOR[k8sMinor(version)];
  if (image === undefined) throw new Error(`no known pause image for Kubernetes ${version}`);
  return image;
}

/**
 * The Kubernetes node: kernel modules and sysctls, swap off, then the distribution.
 * kubeadm runs on the system containerd (cgroupfs driver, as OpenRC has no systemd);
 * k3s runs its embedded containerd, so no second runtime is installed next to it.
 * `bake: none` prepares the node (kernel, swap, runtime) and leaves Kubernetes itself to
 * provisioning time. A kubeadm node also carries its pod network (k8s-cni, after kubeadm).
 */
export const k8sNode: Contributor = {
  name: NAME,
  order: 25,
  appliesTo: (config) => config.k8s !== undefined,
  contribute(bundle, config, context) {
    const k8s = config.k8s!;
    const arch = archOf(config);
    bundle.addVariable("arch", { type: "string", description: "Guest CPU architecture." }, arch);
    bundle.addVariable(
      "k8s_bake",
      { type: "string", description: "How much Kubernetes is baked in: airgap, binary or none." },
      k8s.bake,
    );

    addScriptStep(bundle, config, context, { step: "k8s-kernel", contributor: NAME });
    addScriptStep(bundle, config, context, { step: "k8s-swap", contributor: NAME });

    if (k8s.distribution === "kubeadm") {
      bundle.addVariable("k8s_version", { type: "string", description: "Pinned Kubernetes version." }, k8s.version);
      bundle.addVariable(
        "pause_image",
        { type: "string", description: "Sandbox image kubeadm expects for this version." },
        pauseImageFor(k8s.version),
      );
      addScriptStep(bundle, config, context, {
        step: "k8s-containerd",
        contributor: NAME,
        env: { PAUSE_IMAGE: ref("var.pause_image"), ...runtimeEnv(bundle, config) },
        // Debian downloads the containerd and runc releases.
        ...(k8s.runtime === undefined ? {} : { timeout: DOWNLOAD_TIMEOUT }),
      });
      if (k8s.bake !== "none") {
        addScriptStep(bundle, config, context, {
          step: "k8s-kubeadm",
          contributor: NAME,
          timeout: DOWNLOAD_TIMEOUT,
          env: {
            K8S_VERSION: ref("var.k8s_version"),
            K8S_BAKE: ref("var.k8s_bake"),
            PAUSE_IMAGE: ref("var.pause_image"),
            ARCH: ref("var.arch"),
          },
        });
      }
      addCni(bundle, config, context);
    } else {
      bundle.addVariable("k3s_version", { type: "string", description: "Pinned k3s version." }, k8s.version);
      // Runs for every bake: with bake none it only enables the cgroups service k3s needs.
      addScriptStep(bundle, config, context, {
        step: "k8s-k3s",
        contributor: NAME,
        timeout: DOWNLOAD_TIMEOUT,
        env: { K3S_VERSION: ref("var.k3s_version"), K8S_BAKE: ref("var.k8s_bake"), ARCH: ref("var.arch") },
      });
    }
  },
};

/**
 * The pod network the box carries (kubeadm; bake airgap or binary): flannel's pinned manifest,
 * and with airgap its images. `cni` is what node-verify checks: `none` when nothing is baked.
 */
function addCni(bundle: PackerBundle, config: Config, context: ContributeContext): void {
  const cni = bakedCni(config);
  bundle.addVariable("cni", { type: "string", description: "Pod network baked into the box: flannel or none." }, cni);
  if (cni === "none") return;
  bundle.addVariable("cni_version", { type: "string", description: "Pinned flannel release." }, FLANNEL.version);
  bundle.addVariable(
    "cni_manifest_sha256",
    { type: "string", description: "sha256 of the release's kube-flannel.yml." },
    FLANNEL.manifestSha256,
  );
  bundle.addVariable(
    "cni_images",
    { type: "string", description: "The manifest's image references, space-separated." },
    FLANNEL.images.join(" "),
  );
  bundle.addVariable("pod_cidr", { type: "string", description: "The pod network the manifest sets (kubeadm's podSubnet)." }, FLANNEL.podCidr);
  addScriptStep(bundle, config, context, {
    step: "k8s-cni",
    contributor: NAME,
    timeout: DOWNLOAD_TIMEOUT,
    env: {
      CNI: ref("var.cni"),
      CNI_VERSION: ref("var.cni_version"),
      CNI_MANIFEST_SHA256: ref("var.cni_manifest_sha256"),
      CNI_IMAGES: ref("var.cni_images"),
      POD_CIDR: ref("var.pod_cidr"),
      K8S_BAKE: ref("var.k8s_bake"),
    },
  });
}

/** The CNI a kubeadm box carries: the configured one, unless nothing of Kubernetes is baked. */
export function bakedCni(config: Config): "flannel" | "none" {
  const k8s = config.k8s;
  if (k8s === undefined || k8s.distribution !== "kubeadm" || k8s.bake === "none") return "none";
  return k8s.cni;
}

/**
 * The pinned containerd and runc releases (Debian kubeadm nodes), as Packer variables and the
 * step environment that names them; none for nodes that keep their distribution's runtime.
 */
export function runtimeEnv(bundle: PackerBundle, config: Config): Record<string, HclRef> {
  const runtime = config.k8s?.runtime;
  if (runtime === undefined) return {};
  const env: Record<string, HclRef> = { ARCH: ref("var.arch") };
  for (const [name, pin] of [["containerd", runtime.containerd], ["runc", runtime.runc]] as const) {
    const upper = name.toUpperCase();
    bundle.addVariable(`${name}_version`, { type: "string", description: `Pinned ${name} release.` }, pin.version);
    bundle.addVariable(`${name}_sha256`, { type: "string", description: `sha256 of the ${name} release file for this arch.` }, pin.sha256);
    bundle.addVariable(`${name}_download_url`, { type: "string", description: `Where the ${name} release is downloaded from.` }, pin.url);
    env[`${upper}_VERSION`] = ref(`var.${name}_version`);
    env[`${upper}_SHA256`] = ref(`var.${name}_sha256`);
    env[`${upper}_DOWNLOAD_URL`] = ref(`var.${name}_download_url`);
  }
  return env;
}

export function distributionOf(config: Config): "kubeadm" | "k3s" | "none" {
  return config.k8s?.distribution ?? "none";
}
