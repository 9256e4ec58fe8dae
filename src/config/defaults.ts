/**
 * Embedded defaults: a current, supported combination (checked 2026-11). Each pin says where it
 * came from; `homelab versions check` reports when any of them drifts behind upstream.
 */
export const DEFAULTS = {
  org: "homelab",
  alpine: {
    // Alpine 3.24 (May 2026) is the newest stable branch (supported to 2028-05); 3.24.2
    // (Sep 2026) is its newest point release. Its alpine-virt checksums below were found
    // identical in four to five unrelated public Packer templates per architecture.
    version: "3.24.2",
    mirror: "https://dl-cdn.alpinelinux.org/alpine",
  },
  debian: {
    mirror: "http://deb.debian.org/debian",
    // Debian 12's netinst ISO. 12.15.0 is bookworm's newest point release; its sha256 was found
    // identical in three independent public files (assets/http/DEBIAN.md). Bookworm ISOs live
    // under cdimage's archive/ since Debian 13 became stable. Only amd64 has a pin: no arm64
    // netinst checksum could be confirmed, so arm64 Debian builds need base.image.
    netinst: {
      version: "12.15.0",
      cdimage: "https://cdimage.debian.org/cdimage",
      sha256: { x86_64: "cd4462c06aa8892e692c0c4b9c17802f38c8ab8690e85cbfb5ccaa5956e9af17" } as Readonly<Partial<Record<"x86_64" | "aarch64", string>>>,
    },
  },
  k8s: {
    // Kubernetes 1.35-1.37 are the supported minors in Nov 2026. 1.36 is k3s's stable channel
    // and the minor aports carries for 3.24 (community/kubernetes 1.36.x, community/k3s
    // 1.36.2.1); v1.36.5 is its newest patch release, v1.36.5+k3s1 the matching k3s.
    kubeadm: "v1.36.5",
    k3s: "v1.36.5+k3s1",
  },
  // The container runtime of Debian kubeadm nodes: upstream's static release, not Debian 12's
  // containerd 1.6 (no current Kubernetes supports it; see src/config/containerd-support.ts).
  // containerd 2.3 is the LTS line (supported to 2028-04) and is recommended for Kubernetes
  // 1.36; 2.3.4 its newest patch release (Aug 2026). runc 1.4.3 is the runc containerd 2.3.4
  // itself builds and tests with (containerd/containerd script/setup/runc-version at v2.3.4).
  // Without a containerd pin, a node gets the newest release in KNOWN_CONTAINERD_SHA256 that the
  // support table recommends for its Kubernetes minor (2.2.7 for 1.35); this one otherwise.
  containerd: {
    version: "2.3.4",
    url: "https://github.com/containerd/containerd/releases/download",
  },
  runc: {
    version: "1.4.3",
    url: "https://github.com/opencontainers/runc/releases/download",
  },
} as const;

/**
 * sha256 of `containerd-<version>-linux-<amd64|arm64>.tar.gz` (the upstream release tarball) for
 * releases homelab knows; any other needs `k8s.containerd.sha256`. Each was found identical in
 * two unrelated public files: kubernetes-sigs/kubespray
 * roles/kubespray_defaults/vars/main/checksums.yml (containerd_archive_checksums, main in Aug
 * 2026) and a kubernetes/kops test fixture of staged assets.
 */
export const KNOWN_CONTAINERD_SHA256: Readonly<Record<string, string>> = {
  "2.3.4/x86_64": "9d68969855fbf676cdb8ed758e420fb048d61f984f61de3e53eddfebe484d168",
  "2.3.4/aarch64": "a985fbb7e18fc0362d31a055338f5d7b0e087a3e27f14c70d1c5965399a29f95",
  // 2.2 for Kubernetes 1.35 (the table lists no 2.3 there). amd64: kubespray and an unrelated
  // public install script; no second source was found for arm64, so it has none.
  "2.2.7/x86_64": "91cd216ea26a1b8b512219d3f205375c967e7b7de4dae571bc3dd16bfacd34b5",
};

/** sha256 of `runc.<amd64|arm64>` (upstream's static runc), sources as for containerd (runc_checksums). */
export const KNOWN_RUNC_SHA256: Readonly<Record<string, string>> = {
  "1.4.3/x86_64": "f6ae8efc0fa40079e1475e97cbe9d1bd3f106a28d6af78a11d9f1bd565515e60",
  "1.4.3/aarch64": "633301e2e32f8a5ad54031aab4901eb00308bec677dd15faa2751e8f9dab5ca4",
};

/**
 * sha256 of `alpine-virt-<version>-<arch>.iso` for releases homelab knows. Any other release
 * needs `alpine.isoChecksum` in homelab.yaml (which `homelab versions bump` writes).
 * Only checksums seen identical in at least two unrelated public projects are listed.
 */
export const KNOWN_ALPINE_ISO_SHA256: Readonly<Record<string, string>> = {
  "3.24.2/x86_64": "3ab424762af704b2c2a9e57df1dc37f982af260071504d977f2fb96822e7130b",
  "3.24.2/aarch64": "a57ba668b5f6b17a670fcf8e799d5d7fe43766ed086d6ce2927b0625bf43dbf6",
  "3.24.1/x86_64": "e73a6241bd5f3c5c2d4d38c02cc52c378c0415a7c888bd292066bf36e0f41a39",
  "3.23.4/x86_64": "f802033362595ad55de7bce00c500c51a756c94e229768afdcf7e68e49994c48",
};

/**
 * The pause (sandbox) image kubeadm expects, per Kubernetes minor. containerd must pin the
 * same one, or the kubelet and containerd disagree and kubeadm warns on every init/join.
 * Source: cmd/kubeadm/app/constants (PauseVersion) and `kubeadm config images list` output.
 */
export const PAUSE_IMAGE_BY_MINOR: Readonly<Record<number, string>> = {
  30: "registry.k8s.io/pause:3.9",
  31: "registry.k8s.io/pause:3.10",
  32: "registry.k8s.io/pause:3.10",
  33: "registry.k8s.io/pause:3.10",
  34: "registry.k8s.io/pause:3.10.1",
  35: "registry.k8s.io/pause:3.10.1",
  36: "registry.k8s.io/pause:3.10.2",
  37: "registry.k8s.io/pause:3.10.2",
};

/**
 * The flannel release a kubeadm box carries (`k8s.cni: flannel`): homelab's own pin, like the
 * Debian ISO (`homelab versions check` reports a newer release; a newer homelab moves it, since
 * the manifest's checksum and images move with it). Read at flannel-io/flannel tag v0.28.9
 * (commit 5cd0d526, 2026-08-07): `manifestSha256` is the release asset `kube-flannel.yml`, which
 * the Makefile's release-manifest target makes with `kubectl kustomize
 * Documentation/kustomization/kube-flannel/` (reproduced with kustomize v5.5.0; the same digest is
 * pinned for v0.28.9 in an unrelated public Terraform module). `images` are that manifest's two
 * image references (the CNI plugin init container, then flanneld); `podCidr` is its net-conf.json
 * `Network`, the podSubnet kubeadm must be given for it.
 */
export const FLANNEL = {
  version: "v0.28.9",
  manifestSha256: "1c06a15a771009c263bdb1f51c928af46f7606fe969f3963652167938d536aaa",
  images: ["ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3", "ghcr.io/flannel-io/flannel:v0.28.9"],
  podCidr: "10.244.0.0/16",
} as const;
