import { afterEach, describe, expect, it } from "vitest";
import { DEBIAN_BASE_FILES, DEBIAN_SHIMS, fakeK3s, fakeKubeadm } from "../../support/debian-shims.js";
import { sha256Hex } from "../../support/fixture-server.js";
import { Sandbox } from "../../support/sandbox.js";
import { needTool } from "../../support/tools.js";
import { KUBEADM_135_IMAGES } from "../fixtures.js";

const PAUSE = "registry.k8s.io/pause:3.10.1";
const K8S = "v1.35.1";
const K3S = "v1.31.4+k3s1";
let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

const KERNEL_OK = [
  "ok   module overlay loaded", "ok   module overlay loaded at boot", "ok   module br_netfilter loaded", "ok   module br_netfilter loaded at boot",
  "ok   sysctl net.bridge.bridge-nf-call-iptables", "ok   sysctl net.bridge.bridge-nf-call-ip6tables", "ok   sysctl net.ipv4.ip_forward",
  "ok   sysctl fs.inotify.max_user_instances", "ok   sysctl fs.inotify.max_user_watches", "ok   sysctls applied at boot",
  "ok   no active swap", "ok   no swap in /etc/fstab", "ok   no active swap units", "ok   root mount shared",
];
const CONTAINERD_OK = [
  "ok   containerd service enabled", "ok   containerd service running", "ok   containerd cgroup driver systemd", "ok   containerd runc runtime type",
  "ok   containerd sandbox image", "ok   containerd CNI dir", "ok   CNI plugins in /usr/lib/cni",
];

/**
 * A Debian node prepared by the REAL kernel, swap and (kubeadm) containerd scripts in the same
 * sandbox, so node-verify checks exactly the state those scripts leave.
 */
async function preparedNode(distribution: "kubeadm" | "k3s" | "none"): Promise<Sandbox> {
  sb = await Sandbox.create({
    userland: "debian",
    shims: DEBIAN_SHIMS,
    files: {
      ...DEBIAN_BASE_FILES,
      "/etc/fstab": "LABEL=root / ext4 defaults 0 1\n/dev/vda5 none swap sw 0 0\n",
      "/proc/swaps": "Filename\tType\tSize\tUsed\tPriority\n/dev/vda5 partition 998396 0 -2\n",
      "/.shim/swap-units": "dev-vda5.swap\n",
      "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
      "/.shim/deb-pkgs/containerd/usr/lib/systemd/system/containerd.service": "[Service]\n",
      "/.shim/deb-pkgs/containernetworking-plugins/usr/lib/cni/bridge": { content: "", mode: 0o755 },
      "/.shim/deb-pkgs/containernetworking-plugins/usr/lib/cni/loopback": { content: "", mode: 0o755 },
    },
  });
  const steps = ["k8s-kernel.sh", "k8s-swap.sh", ...(distribution === "kubeadm" ? ["k8s-containerd.sh"] : [])];
  for (const step of steps) {
    const r = await sb.run(`debian/${step}`, { PAUSE_IMAGE: PAUSE });
    expect(r.code, `${step}: ${r.stderr}`).toBe(0);
  }
  sb.clearCalls();
  return sb;
}

/** What k8s-kubeadm.sh leaves (its own test proves it writes exactly this). */
function addKubeadm(s: Sandbox, images: string[] | undefined): void {
  s.write("/usr/bin/kubeadm", { content: fakeKubeadm(K8S, KUBEADM_135_IMAGES), mode: 0o755 });
  s.write("/usr/bin/crictl", { content: "#!/deb/sh\n", mode: 0o755 });
  s.write("/etc/systemd/system/kubelet.service", "[Service]\nExecStart=/usr/bin/kubelet\n");
  s.write("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf", "[Service]\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBEADM_ARGS\n");
  s.write("/etc/kubernetes/kubeadm-config.yaml", "kind: KubeletConfiguration\ncgroupDriver: systemd\n");
  s.write("/etc/crictl.yaml", "runtime-endpoint: unix:///run/containerd/containerd.sock\n");
  s.write("/etc/kubernetes-version", `${K8S}\n`);
  s.write("/.shim/enabled", `${s.read("/.shim/enabled")}kubelet.service\n`);
  if (images) {
    s.write("/etc/homelab/kubeadm-images.txt", `${[...images].sort().join("\n")}\n`);
    s.write("/.shim/images", `${images.join("\n")}\n`);
  }
}

const verify = (s: Sandbox, env: Record<string, string>) => s.run("debian/node-verify.sh", { ARCH: "x86_64", PAUSE_IMAGE: PAUSE, ...env });
const lines = (out: string) => out.split("\n").filter((l) => /^(ok  |FAIL)/.test(l));

describe.skipIf(!(needTool("bwrap") && needTool("dash")))("debian/node-verify.sh", () => {
  it("kubeadm, bake none (the e2e path): every check passes after the real kernel, swap and containerd scripts", async () => {
    const s = await preparedNode("kubeadm");
    const r = await verify(s, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "none", K8S_VERSION: K8S });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(lines(r.stdout)).toEqual([...KERNEL_OK, ...CONTAINERD_OK]);
    expect(r.stdout).toMatch(/node-verify: all checks passed\n$/);
  });

  it("kubeadm airgap: kubelet enabled not started, version, configs, exactly the recorded images", async () => {
    const s = await preparedNode("kubeadm");
    addKubeadm(s, KUBEADM_135_IMAGES);
    const r = await verify(s, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "airgap", K8S_VERSION: K8S });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(lines(r.stdout).slice(KERNEL_OK.length + CONTAINERD_OK.length)).toEqual([
      "ok   kubelet service enabled", "ok   kubelet service not started", "ok   kubeadm version", "ok   /etc/kubernetes-version",
      "ok   kubelet cgroup driver systemd for kubeadm", "ok   kubelet kubeadm drop-in", "ok   /etc/crictl.yaml", "ok   crictl installed",
      "ok   pre-pulled images are exactly 7 expected",
    ]);
  });

  it("reports every failure, not just the first, and exits 1", async () => {
    const s = await preparedNode("kubeadm");
    addKubeadm(s, KUBEADM_135_IMAGES.slice(1));
    s.write("/etc/homelab/kubeadm-images.txt", `${[...KUBEADM_135_IMAGES].sort().join("\n")}\n`);
    s.write("/.shim/dump.sed", "s/SystemdCgroup = true/SystemdCgroup = false/\n");
    s.write("/.shim/root-propagation", "private\n");
    s.write("/.shim/swap-units", "swapfile.swap\n");
    s.write("/.shim/active", "containerd.service\nkubelet.service\n");
    const r = await verify(s, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "airgap", K8S_VERSION: K8S });
    expect(r.code).toBe(1);
    expect(lines(r.stdout).filter((l) => l.startsWith("FAIL"))).toEqual([
      "FAIL no active swap units: active: swapfile.swap ",
      "FAIL root mount shared: / is 'private' (findmnt -o PROPAGATION /)",
      "FAIL containerd cgroup driver systemd: found 'false', expected 'true'",
      "FAIL kubelet service not started: kubelet is active (it must start only at provisioning)",
      `FAIL pre-pulled images: missing: ${KUBEADM_135_IMAGES[0]} ; unexpected: none`,
    ]);
    expect(r.stderr).toBe("node-verify: 5 check(s) failed\n");
  });

  it("k3s binary: checksum, version, k3s enabled not started, cgroup controllers, no system containerd", async () => {
    const s = await preparedNode("k3s");
    const bin = fakeK3s(K3S);
    s.write("/usr/local/bin/k3s", { content: bin, mode: 0o755 });
    s.write("/etc/homelab/k3s.sha256", `${sha256Hex(bin)}  /usr/local/bin/k3s\n`);
    s.write("/etc/systemd/system/k3s.service", "[Service]\n");
    s.write("/.shim/enabled", "k3s.service\n");
    const r = await verify(s, { K8S_DISTRIBUTION: "k3s", K8S_BAKE: "binary", K3S_VERSION: K3S });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(lines(r.stdout).slice(KERNEL_OK.length)).toEqual([
      "ok   no system containerd enabled", "ok   cgroup v2 controller cpu", "ok   cgroup v2 controller memory", "ok   cgroup v2 controller pids",
      "ok   k3s binary checksum", `ok   k3s version ${K3S}`, "ok   k3s service enabled", "ok   k3s service not started",
    ]);
  });

  it("k3s fails with a system containerd enabled and a binary that is not the recorded one", async () => {
    const s = await preparedNode("k3s");
    s.write("/usr/lib/systemd/system/containerd.service", "[Service]\n");
    s.write("/.shim/enabled", "containerd.service\nk3s.service\n");
    s.write("/etc/systemd/system/k3s.service", "[Service]\n");
    s.write("/usr/local/bin/k3s", { content: fakeK3s(K3S), mode: 0o755 });
    s.write("/etc/homelab/k3s.sha256", `${"0".repeat(64)}  /usr/local/bin/k3s\n`);
    const r = await verify(s, { K8S_DISTRIBUTION: "k3s", K8S_BAKE: "binary", K3S_VERSION: K3S });
    expect(r.code).toBe(1);
    expect(lines(r.stdout).filter((l) => l.startsWith("FAIL"))).toEqual([
      "FAIL no system containerd enabled: containerd.service is enabled",
      `FAIL k3s binary checksum: found '${sha256Hex(fakeK3s(K3S))}', expected '${"0".repeat(64)}'`,
    ]);
  });

  it("refuses an unknown distribution before checking anything", async () => {
    const s = await preparedNode("none");
    const r = await verify(s, { K8S_DISTRIBUTION: "microk8s", K8S_BAKE: "none" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("FAIL environment: K8S_DISTRIBUTION 'microk8s' is not kubeadm, k3s or none\n");
  });
});
