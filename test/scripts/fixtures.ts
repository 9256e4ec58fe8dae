/**
 * Recorded shapes of real upstream files, trimmed to the parts the scripts touch. They stand in for
 * the Alpine and Debian packages and the release downloads, which need the internet.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { sha256Hex } from "../support/fixture-server.js";
import { fakeKubeadm, type Family, type FamilyUserland, type Files } from "../support/shims.js";

/**
 * /etc/containerd/config.toml as Alpine's containerd 2.x package ships it: `containerd config
 * default` (version 3, containerd >= 2.1 layout with bin_dirs) with /opt/cni/bin already rewritten
 * to /usr/libexec/cni by the APKBUILD. No SystemdCgroup line under runc.options.
 */
export const CONTAINERD_PACKAGED_CONFIG = `version = 3
root = '/var/lib/containerd'
state = '/run/containerd'
temp = ''
disabled_plugins = []
required_plugins = []
oom_score = 0
imports = []

[grpc]
  address = '/run/containerd/containerd.sock'

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    disable_snapshot_annotations = true
    discard_unpacked_layers = false
    max_concurrent_downloads = 3
    image_pull_progress_timeout = '5m0s'
    image_pull_with_sync_fs = false
    stats_collect_period = 10

    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = 'registry.k8s.io/pause:3.10'

    [plugins.'io.containerd.cri.v1.images'.registry]
      config_path = ''

  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    max_container_log_line_size = 16384
    enable_cdi = true
    cdi_spec_dirs = ['/etc/cdi', '/var/run/cdi']

    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      ignore_blockio_not_enabled_errors = false

      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes]
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
          runtime_type = 'io.containerd.runc.v2'
          runtime_path = ''
          pod_annotations = []
          container_annotations = []
          privileged_without_host_devices = false
          base_runtime_spec = ''
          cni_conf_dir = ''
          cni_max_conf_num = 0
          snapshotter = ''
          sandboxer = 'podsandbox'
          io_type = ''

          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
            BinaryName = ''
            CriuImagePath = ''
            CriuWorkPath = ''
            IoGid = 0
            IoUid = 0
            NoNewKeyring = false
            Root = ''
            ShimCgroup = ''

    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dir = ''
      bin_dirs = ['/usr/libexec/cni']
      conf_dir = '/etc/cni/net.d'
      max_conf_num = 1
      setup_serially = false
      conf_template = ''
      ip_pref = ''
      use_internal_loopback = false

  [plugins.'io.containerd.gc.v1.scheduler']
    pause_threshold = 0.02
    deletion_threshold = 0
    mutation_threshold = 100
    schedule_delay = '0s'
    startup_delay = '100ms'

[ttrpc]
  address = ''
`;

/** /etc/containerd/config.toml as Debian 12's containerd 1.6.20~ds1-1+deb12u3 ships it (version 2). */
export const DEBIAN_CONTAINERD_PACKAGED_CONFIG = `version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`;

/** containerd 2.0's CNI table: only bin_dir, no bin_dirs. */
export const CONTAINERD_20_CONFIG = CONTAINERD_PACKAGED_CONFIG.replace(
  "      bin_dir = ''\n      bin_dirs = ['/usr/libexec/cni']\n",
  "      bin_dir = '/usr/libexec/cni'\n",
);

/** What `containerd config default` prints (upstream paths: /opt/cni/bin). */
export const CONTAINERD_UPSTREAM_DEFAULT = CONTAINERD_PACKAGED_CONFIG.replace("['/usr/libexec/cni']", "['/opt/cni/bin']");

/**
 * Alpine's /etc/conf.d/kubelet and (the parts that matter of) /etc/init.d/kubelet, as the
 * kubelet-openrc package installs them: alpinelinux/aports community/kubernetes/kubelet.confd and
 * kubelet.initd (written from what they do, not copied). What matters: supervise-daemon runs
 * /usr/bin/kubelet with the kubeadm flags, and logs to output_log/error_log under
 * /var/log/$RC_SVCNAME, which supervise-daemon must be able to open. The directory itself comes
 * from the `kubelet` package, not kubelet-openrc (community/kubernetes/APKBUILD, `_split`:
 * `install -d "$subpkgdir"/var/log/$_pkg` for each package with a logrotate file; read at the
 * stored aports version with pkgver 1.35.1, commit 0088676a). The log lines follow
 * community/kubernetes/kube-proxy.initd (commit 0d9ba7e8), which has the same shape.
 */
export const KUBELET_CONFD = `command_args="--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf --cgroup-driver=cgroupfs --config=/var/lib/kubelet/config.yaml"\n`;
export const KUBELET_INITD = `#!/sbin/openrc-run
supervisor=supervise-daemon
description="Kubelet, a Kubernetes node agent"

if [ -e /var/lib/kubelet/kubeadm-flags.env ]; then
	. /var/lib/kubelet/kubeadm-flags.env;
fi

command="/usr/bin/kubelet"
command_args="\${command_args} \${KUBELET_KUBEADM_ARGS}"
pidfile="\${KUBELET_PIDFILE:-/run/\${RC_SVCNAME}.pid}"
: \${output_log:=/var/log/$RC_SVCNAME/$RC_SVCNAME.log}
: \${error_log:=/var/log/$RC_SVCNAME/$RC_SVCNAME.log}

depend() {
	after net
	need cgroups
	want containerd crio
}
`;

/** `kubeadm config images list --kubernetes-version v1.35.1` (kubeadm 1.35 pins pause 3.10.1). */
export const KUBEADM_135_IMAGES = [
  "registry.k8s.io/kube-apiserver:v1.35.1",
  "registry.k8s.io/kube-controller-manager:v1.35.1",
  "registry.k8s.io/kube-scheduler:v1.35.1",
  "registry.k8s.io/kube-proxy:v1.35.1",
  "registry.k8s.io/coredns/coredns:v1.13.1",
  "registry.k8s.io/pause:3.10.1",
  "registry.k8s.io/etcd:3.6.6-0",
];

const exe = (content: string) => ({ content, mode: 0o755 });

/**
 * What each family's packages for a kubeadm node install (under /.shim/pkgs/<package>/): containerd
 * with its service and packaged config, the CNI plugins, and on Alpine kubelet-openrc and cri-tools.
 */
export const NODE_PACKAGES: Record<Family, Files> = {
  alpine: {
    "/.shim/pkgs/containerd/etc/init.d/containerd": exe("#!/sbin/openrc-run\n"),
    "/.shim/pkgs/containerd/etc/containerd/config.toml": CONTAINERD_PACKAGED_CONFIG,
    "/.shim/pkgs/cni-plugins/usr/libexec/cni/bridge": exe(""),
    "/.shim/pkgs/cni-plugins/usr/libexec/cni/loopback": exe(""),
    // What flannel's network config chains: its plugin delegates to bridge with host-local addresses; portmap.
    "/.shim/pkgs/cni-plugins/usr/libexec/cni/host-local": exe(""),
    "/.shim/pkgs/cni-plugins/usr/libexec/cni/portmap": exe(""),
    "/.shim/containerd-default.toml": CONTAINERD_UPSTREAM_DEFAULT,
    "/.shim/pkgs/kubelet-openrc/etc/init.d/kubelet": exe(KUBELET_INITD),
    "/.shim/pkgs/kubelet-openrc/etc/conf.d/kubelet": KUBELET_CONFD,
    "/.shim/pkgs/cri-tools/usr/bin/crictl": exe("#!/bb/sh\necho crictl\n"),
    // The repository carries another Kubernetes than the tests pin: the upstream binaries are used.
    "/.shim/apk-policy/kubeadm": "1.34.12-r0\n",
  },
  debian: {
    "/.shim/pkgs/containernetworking-plugins/usr/lib/cni/bridge": exe(""),
    "/.shim/pkgs/containernetworking-plugins/usr/lib/cni/loopback": exe(""),
    "/.shim/pkgs/containernetworking-plugins/usr/lib/cni/host-local": exe(""),
    "/.shim/pkgs/containernetworking-plugins/usr/lib/cni/portmap": exe(""),
  },
};

/**
 * containerd's and runc's GitHub releases as a local fixture server serves them
 * (/containerd/v<v>/containerd-<v>-linux-<arch>.tar.gz with its .sha256sum, "digest  name";
 * /runc/v<v>/runc.<arch> with runc.sha256sum, one "digest  name" line per file). The tarball has
 * upstream's layout (bin/containerd, bin/containerd-shim-runc-v2, bin/ctr, bin/containerd-stress:
 * containerd/containerd docs/getting-started.md at v2.3.4); its binaries are stand-ins (the
 * `containerd`/`runc` shims answer for them in the sandbox), `bins` overrides what it holds.
 */
export function runtimeReleases(fam: FamilyUserland, containerd: string, runc: string, arch: string, opts: { bins?: string[] } = {}) {
  const tgz = `containerd-${containerd}-linux-${arch}.tar.gz`;
  const bins = opts.bins ?? ["containerd", "containerd-shim-runc-v2", "ctr", "containerd-stress"];
  const tarball = tarballOf(Object.fromEntries(bins.map((b) => [`bin/${b}`, `#!${fam.bin}/sh\necho ${b} stand-in\n`])));
  const runcBin = `#!${fam.bin}/sh\necho runc stand-in\n`;
  return {
    routes: {
      [`/containerd/v${containerd}/${tgz}`]: tarball,
      [`/containerd/v${containerd}/${tgz}.sha256sum`]: `${sha256Hex(tarball)}  ${tgz}\n`,
      [`/runc/v${runc}/runc.${arch}`]: runcBin,
      [`/runc/v${runc}/runc.sha256sum`]: `${sha256Hex(runcBin)}  runc.${arch}\n${sha256Hex("other")}  runc.other\n`,
    } as Record<string, string | Buffer>,
    sha256: { containerd: sha256Hex(tarball), runc: sha256Hex(runcBin) },
    tarball,
  };
}

/** A .tar.gz of `files` (path → content, each mode 755), paths as given (no ./ prefix). */
function tarballOf(files: Record<string, string>): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "homelab-tgz-"));
  try {
    for (const [path, body] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, "t", path)), { recursive: true });
      writeFileSync(join(dir, "t", path), body, { mode: 0o755 });
    }
    // Reproducible (fixed times and owners, no name or time in the gzip header): the same files
    // make the same bytes, so a digest computed once pins every later build of it.
    execFileSync("tar", ["--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "-I", "gzip -n", "-cf", join(dir, "out.tgz"), "-C", join(dir, "t"), ...Object.keys(files)]);
    return readFileSync(join(dir, "out.tgz"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** crictl-<v>-linux-<arch>.tar.gz as cri-tools releases it: one `crictl` file at the top. */
function crictlTarball(body: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "homelab-crictl-"));
  try {
    writeFileSync(join(dir, "crictl"), body, { mode: 0o755 });
    execFileSync("tar", ["-czf", join(dir, "crictl.tgz"), "-C", dir, "crictl"]);
    return readFileSync(join(dir, "crictl.tgz"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Stand-ins for the upstream Kubernetes binaries, runnable in the family's sandbox. */
export function kubernetesBinaries(fam: FamilyUserland, version: string, reports = version) {
  return {
    kubeadm: fakeKubeadm(fam, reports, KUBEADM_135_IMAGES),
    kubelet: `#!${fam.bin}/sh\necho kubelet\n`,
    kubectl: `#!${fam.bin}/sh\necho kubectl\n`,
    crictl: `#!${fam.bin}/sh\necho crictl\n`,
  };
}

export const CRICTL_VERSION = "v1.35.0";

/**
 * dl.k8s.io's layout (/release/<version>/bin/linux/<arch>/<bin> and <bin>.sha256, the bare hex
 * digest) and a cri-tools GitHub release (/cri-tools/<v>/crictl-<v>-linux-<arch>.tar.gz and its
 * .sha256, "digest  name"), for a local fixture server. `sums` overrides a published digest;
 * `reports` is the version the kubeadm binary says it is.
 */
export function kubernetesReleases(fam: FamilyUserland, version: string, arch: string, opts: { sums?: Record<string, string>; reports?: string } = {}): Record<string, string | Buffer> {
  const bins = kubernetesBinaries(fam, version, opts.reports);
  const routes: Record<string, string | Buffer> = {};
  for (const bin of ["kubeadm", "kubelet", "kubectl"] as const) {
    routes[`/release/${version}/bin/linux/${arch}/${bin}`] = bins[bin];
    routes[`/release/${version}/bin/linux/${arch}/${bin}.sha256`] = opts.sums?.[bin] ?? sha256Hex(bins[bin]);
  }
  const tgz = `crictl-${CRICTL_VERSION}-linux-${arch}.tar.gz`;
  const tarball = crictlTarball(bins.crictl);
  routes[`/cri-tools/${CRICTL_VERSION}/${tgz}`] = tarball;
  routes[`/cri-tools/${CRICTL_VERSION}/${tgz}.sha256`] = opts.sums?.crictl ?? `${sha256Hex(tarball)}  ${tgz}\n`;
  return routes;
}

/** test/fixtures/cni/kube-flannel-v0.28.9.yml: the parts of flannel's release manifest that matter (see its header). */
export const FLANNEL_MANIFEST = readFileSync(new URL("../fixtures/cni/kube-flannel-v0.28.9.yml", import.meta.url), "utf8");
export const FLANNEL_VERSION = "v0.28.9";
/** The manifest's two distinct image references, sorted (as images.txt records them). */
export const FLANNEL_IMAGES = ["ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3", "ghcr.io/flannel-io/flannel:v0.28.9"];

/** flannel's release download layout (/<tag>/kube-flannel.yml) for a local fixture server under /flannel. */
export function flannelRelease(manifest: string = FLANNEL_MANIFEST): Record<string, string> {
  return { [`/flannel/${FLANNEL_VERSION}/kube-flannel.yml`]: manifest };
}

/** The k8s-cni step's environment for the fixture manifest (its own sha256), downloads from `url`. */
export function cniEnv(url: string, bake: string): Record<string, string> {
  return {
    CNI: "flannel", CNI_VERSION: FLANNEL_VERSION, CNI_MANIFEST_SHA256: sha256Hex(FLANNEL_MANIFEST), CNI_IMAGES: FLANNEL_IMAGES.join(" "),
    POD_CIDR: "10.244.0.0/16", K8S_BAKE: bake, CNI_DOWNLOAD_URL: `${url}/flannel`,
  };
}
