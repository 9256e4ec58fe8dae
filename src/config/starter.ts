import { DEFAULTS } from "./defaults.js";

/** File name of the JSON Schema that `homelab init` writes next to homelab.yaml. */
export const SCHEMA_FILE = "homelab.schema.json";

/**
 * The commented starter config. It is also the embedded default: `homelab generate` without a
 * homelab.yaml builds exactly this, so the two can never disagree.
 */
export function starterConfig(): string {
  return `# yaml-language-server: $schema=./${SCHEMA_FILE}
# homelab.yaml: one file that describes a Kubernetes node image.
# \`homelab validate\` checks it, \`homelab generate\` writes the Packer bundle,
# \`homelab build\` builds the Vagrant boxes.

# Box namespace: boxes are named <org>/alpine-<major.minor>-k8snode-<distribution>.
org: ${DEFAULTS.org}

alpine:
  # Pinned point release; \`homelab versions check\` warns when it falls behind.
  version: ${DEFAULTS.alpine.version}
  arch: x86_64 # or aarch64

# Or Debian 12 instead of Alpine (apt, systemd; boxes named <org>/debian-12-...):
# remove the alpine: section above and uncomment
# debian: {}

# Or build on a bootable qcow2 image you already have (libvirt only) instead of
# installing from the ISO; the image is checked against its sha256 before the build:
# base:
#   image: ./debian-12.qcow2 # relative to this file, or an http(s) URL
#   checksum: sha256:<64 hex digits> # sha256sum debian-12.qcow2
#   ssh: { username: vagrant, password: vagrant } # a user with passwordless sudo

k8s:
  distribution: kubeadm # or k3s
  version: ${DEFAULTS.k8s.kubeadm} # a k3s version looks like ${DEFAULTS.k8s.k3s}
  # airgap: binaries and images baked in; binary: binaries only; none: runtime only.
  bake: airgap
  # kubeadm's pod network, baked in: flannel (the default) or none. Leave it out for k3s,
  # which brings its own flannel.
  # cni: flannel
  # With airgap, the build boots Kubernetes once, offline, and removes every trace
  # before the image is sealed; bootCheck: false skips that.
  # bootCheck: true
  # Debian kubeadm nodes install containerd and runc from their upstream releases
  # (defaults ${DEFAULTS.containerd.version} and ${DEFAULTS.runc.version}); pin others with their sha256:
  # containerd: { version: ${DEFAULTS.containerd.version}, sha256: "sha256:<hex>" }
  # runc: { version: ${DEFAULTS.runc.version}, sha256: "sha256:<hex>" }

# Vagrant providers to build: libvirt, virtualbox.
providers:
  - libvirt

vm:
  diskSizeMiB: 20480
  memoryMiB: 2048
  cpus: 2

box:
  version: 0.1.0
`;
}
