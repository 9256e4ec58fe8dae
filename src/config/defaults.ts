/**
 * Embedded defaults: a current, supported combination. Each pin says where it came from;
 * `homelab versions check` reports when any of them drifts behind upstream.
 */
export const DEFAULTS = {
  org: "homelab",
  alpine: {
    // Alpine 3.24 (May 2026) is the newest stable branch; 3.24.1 is its newest point release
    // with a checksum found identical in two unrelated public Packer templates.
    version: "3.24.1",
    mirror: "https://dl-cdn.alpinelinux.org/alpine",
  },
  k8s: {
    kubeadm: "v1.35.1",
    k3s: "v1.35.1+k3s1",
  },
} as const;

/**
 * sha256 of `alpine-virt-<version>-<arch>.iso` for releases homelab knows. Any other release
 * needs `alpine.isoChecksum` in homelab.yaml (which `homelab versions bump` writes).
 */
export const KNOWN_ALPINE_ISO_SHA256: Readonly<Record<string, string>> = {
  "3.24.1/x86_64": "e73a6241bd5f3c5c2d4d38c02cc52c378c0415a7c888bd292066bf36e0f41a39",
  "3.24.0/x86_64": "6cd1a38ae05cf96a5d0cbb2ddd6c630834babfeca1ecc5d1f05ec0b06b886102",
};

/**
 * The pause (sandbox) image kubeadm expects, per Kubernetes minor. containerd must pin the
 * same one, or the kubelet and containerd disagree and kubeadm warns on every init/join.
 * Source: kubernetes/kubernetes cmd/kubeadm/app/constants/constants.go (PauseVersion).
 */
export const PAUSE_IMAGE_BY_MINOR: Readonly<Record<number, string>> = {
  30: "registry.k8s.io/pause:3.9",
  31: "registry.k8s.io/pause:3.10",
  32: "registry.k8s.io/pause:3.10",
  33: "registry.k8s.io/pause:3.10",
  34: "registry.k8s.io/pause:3.10.1",
  35: "registry.k8s.io/pause:3.10.1",
  36: "registry.k8s.io/pause:3.10.1",
  37: "registry.k8s.io/pause:3.10.1",
};
