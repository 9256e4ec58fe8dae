/**
 * The in-VM scripts are written once, in parts (assets/scripts/): helpers in `lib/`, each OS
 * family's primitives and its own way of doing a step in `<family>/` (the same function names in
 * every family), and one body per step in `steps/`. A bundle ships one standalone script per
 * step, composed here from its parts, so it still runs with plain `packer build .`, and its
 * content hash covers exactly the text that runs.
 */

/** Which script a step runs; the base step is `base-<family>` in the bundle but one script. */
export type ScriptName =
  | "base"
  | "k8s-kernel"
  | "k8s-swap"
  | "k8s-containerd"
  | "k8s-kubeadm"
  | "k8s-cni"
  | "k8s-k3s"
  | "node-verify"
  | "k8s-boot-check"
  | "sysprep";

/** The family's own directory in a part's path. */
const FAMILY = "@";

/**
 * The parts of each script, in order: helpers first, then the family's primitives (os.sh) and
 * its part of the step, the body last. A part only defines functions and settings; the body is
 * the only part that acts.
 */
export const SCRIPT_PARTS: Readonly<Record<ScriptName, readonly string[]>> = {
  base: ["lib/log.sh", "lib/write_file.sh", "@/os.sh", "@/base.sh", "steps/base.sh"],
  "k8s-kernel": ["lib/log.sh", "lib/write_file.sh", "lib/mount.sh", "@/os.sh", "steps/kernel.sh"],
  "k8s-swap": ["lib/log.sh", "@/os.sh", "steps/swap.sh"],
  "k8s-containerd": [
    "lib/log.sh",
    "lib/write_file.sh",
    "lib/download.sh",
    "lib/verify_sha256.sh",
    "lib/toml.sh",
    "lib/checks.sh",
    "@/os.sh",
    "@/containerd.sh",
    "steps/runtime.sh",
  ],
  "k8s-kubeadm": ["lib/log.sh", "lib/write_file.sh", "lib/download.sh", "lib/verify_sha256.sh", "@/os.sh", "@/kubelet.sh", "steps/kubeadm.sh"],
  "k8s-cni": ["lib/log.sh", "lib/write_file.sh", "lib/download.sh", "lib/verify_sha256.sh", "@/os.sh", "@/containerd.sh", "steps/cni.sh"],
  "k8s-k3s": ["lib/log.sh", "lib/write_file.sh", "lib/download.sh", "lib/verify_sha256.sh", "lib/checks.sh", "@/os.sh", "@/k3s.sh", "steps/k3s.sh"],
  "node-verify": [
    "lib/log.sh",
    "lib/checks.sh",
    "lib/toml.sh",
    "lib/mount.sh",
    "@/os.sh",
    "@/containerd.sh",
    "@/kubelet.sh",
    "@/k3s.sh",
    "steps/verify.sh",
  ],
  "k8s-boot-check": ["lib/log.sh", "lib/offline.sh", "@/os.sh", "steps/boot.sh"],
  sysprep: ["lib/log.sh", "lib/write_file.sh", "lib/checks.sh", "@/os.sh", "steps/sysprep.sh"],
};

/** The asset paths (under assets/scripts/) of a script's parts for one family's script set. */
export function scriptParts(script: ScriptName, scriptSet: string): string[] {
  return SCRIPT_PARTS[script].map((part) => (part.startsWith(`${FAMILY}/`) ? `${scriptSet}${part.slice(FAMILY.length)}` : part));
}

/**
 * One standalone POSIX sh script: a header naming the step and its parts, `STEP` (the name
 * lib/log.sh prints), then every part after a `# --- part: <path> ---` marker, verbatim.
 */
export function composeScript(step: string, script: ScriptName, scriptSet: string, asset: (path: string) => string): string {
  if (!/^[a-z0-9-]+$/.test(step)) throw new Error(`not a step name: ${JSON.stringify(step)}`);
  const parts = scriptParts(script, scriptSet);
  const lines = [
    "#!/bin/sh",
    `# homelab step ${step} (${scriptSet}): composed by homelab from assets/scripts/ when this bundle`,
    "# was generated; each part follows its marker. Change the parts, not this file.",
    `STEP=${step}`,
  ];
  for (const part of parts) {
    const text = asset(`scripts/${part}`);
    lines.push(`# --- part: ${part} ---`, text.endsWith("\n") ? text.slice(0, -1) : text);
  }
  return `${lines.join("\n")}\n`;
}
