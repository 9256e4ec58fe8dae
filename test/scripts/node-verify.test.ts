import { afterEach, describe, expect, it } from "vitest";
import { ALPINE_BASE_FILES, ALPINE_SHIMS, fakeK3s, fakeKubeadm } from "../support/alpine-shims.js";
import { sha256Hex } from "../support/fixture-server.js";
import { Sandbox } from "../support/sandbox.js";
import { needTool } from "../support/tools.js";
import { CONTAINERD_PACKAGED_CONFIG, KUBEADM_135_IMAGES } from "./fixtures.js";

const PAUSE = "registry.k8s.io/pause:3.10.1";
const K3S = "v1.31.4+k3s1";
const K3S_BIN = fakeK3s(K3S);
const TARBALL = "/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst";

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

type Files = Record<string, string | { content: string; mode: number }>;
const exe = (content: string) => ({ content, mode: 0o755 });

/** The kernel state of a correctly prepared node, as /proc and /etc show it. */
const GOOD_KERNEL: Files = {
  "/proc/modules": "br_netfilter 32768 0 - Live 0x0000000000000000\noverlay 155648 0 - Live 0x0000000000000000\nvirtio_net 61440 0 - Live 0x0\n",
  "/proc/sys/net/bridge/bridge-nf-call-iptables": "1\n",
  "/proc/sys/net/bridge/bridge-nf-call-ip6tables": "1\n",
  "/proc/sys/net/ipv4/ip_forward": "1\n",
  "/proc/sys/fs/inotify/max_user_instances": "8192\n",
  "/proc/sys/fs/inotify/max_user_watches": "524288\n",
  "/proc/swaps": "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n",
  "/proc/self/mountinfo": "22 1 253:3 / / rw,relatime shared:1 - ext4 /dev/vda3 rw\n23 22 253:1 / /boot rw,relatime shared:2 - ext4 /dev/vda1 rw\n",
  "/etc/fstab": "UUID=1 / ext4 rw,relatime 0 1\n# UUID=2 none swap sw 0 0\n",
  "/etc/modules-load.d/k8s.conf": "overlay\nbr_netfilter\n",
  "/etc/local.d/k8s-rshared.start": exe("#!/bin/sh\nmount --make-rshared /\n"),
};

function kubeadmNode(images: string[] = KUBEADM_135_IMAGES): Files {
  return {
    ...ALPINE_BASE_FILES,
    ...GOOD_KERNEL,
    "/etc/init.d/containerd": exe("#!/sbin/openrc-run\n"),
    "/etc/init.d/kubelet": exe("#!/sbin/openrc-run\n"),
    "/.shim/runlevels": "local default\ncgroups default\ncontainerd default\nkubelet default\n",
    "/.shim/started": "containerd\n",
    "/etc/containerd/config.toml": CONTAINERD_PACKAGED_CONFIG.replace("pause:3.10'", "pause:3.10.1'").replace("            ShimCgroup = ''\n", "            ShimCgroup = ''\n            SystemdCgroup = false\n"),
    "/usr/bin/kubeadm": exe(fakeKubeadm("v1.35.1", KUBEADM_135_IMAGES)),
    "/etc/kubernetes-version": "v1.35.1\n",
    "/etc/kubernetes/kubeadm-config.yaml": "kind: KubeletConfiguration\ncgroupDriver: cgroupfs\n",
    "/etc/crictl.yaml": "runtime-endpoint: unix:///run/containerd/containerd.sock\nimage-endpoint: unix:///run/containerd/containerd.sock\n",
    "/etc/homelab/kubeadm-images.txt": [...KUBEADM_135_IMAGES].sort().join("\n") + "\n",
    "/.shim/images": images.join("\n") + "\n",
  };
}

function k3sNode(): Files {
  return {
    ...ALPINE_BASE_FILES,
    ...GOOD_KERNEL,
    "/etc/init.d/k3s": exe("#!/sbin/openrc-run\n"),
    "/.shim/runlevels": "local default\ncgroups default\nk3s default\n",
    "/usr/local/bin/k3s": exe(K3S_BIN),
    [TARBALL]: "images",
    "/etc/homelab/k3s.sha256": `${sha256Hex(K3S_BIN)}  /usr/local/bin/k3s\n${sha256Hex("images")}  ${TARBALL}\n`,
  };
}

const KUBEADM_ENV = { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "airgap", K8S_VERSION: "v1.35.1", PAUSE_IMAGE: PAUSE, ARCH: "x86_64" };
const K3S_ENV = { K8S_DISTRIBUTION: "k3s", K8S_BAKE: "airgap", K3S_VERSION: K3S, ARCH: "x86_64" };
const KERNEL_CHECKS = [
  "ok   module overlay loaded",
  "ok   module overlay loaded at boot",
  "ok   module br_netfilter loaded",
  "ok   module br_netfilter loaded at boot",
  "ok   sysctl net.bridge.bridge-nf-call-iptables",
  "ok   sysctl net.bridge.bridge-nf-call-ip6tables",
  "ok   sysctl net.ipv4.ip_forward",
  "ok   sysctl fs.inotify.max_user_instances",
  "ok   sysctl fs.inotify.max_user_watches",
  "ok   no active swap",
  "ok   no swap in /etc/fstab",
  "ok   root mount shared",
  "ok   root mount shared at boot",
];

async function verify(files: Files, env: Record<string, string>) {
  sb = await Sandbox.create({ files, shims: ALPINE_SHIMS });
  const r = await sb.run("node-verify.sh", env);
  return { ...r, lines: r.stdout.split("\n").filter(Boolean) };
}

describe.skipIf(!(needTool("bwrap") && needTool("busybox")))("node-verify.sh", () => {
  it("passes a correct kubeadm airgap node, one line per check", async () => {
    const r = await verify(kubeadmNode(), KUBEADM_ENV);
    expect(r.lines).toEqual([
      ...KERNEL_CHECKS,
      "ok   containerd service enabled",
      "ok   containerd service running",
      "ok   containerd cgroup driver cgroupfs",
      "ok   containerd sandbox image",
      "ok   containerd CNI dir",
      "ok   kubelet service enabled",
      "ok   kubelet service not started",
      "ok   kubeadm version",
      "ok   /etc/kubernetes-version",
      "ok   kubelet cgroup driver cgroupfs for kubeadm",
      "ok   /etc/crictl.yaml",
      "ok   pre-pulled images are exactly 7 expected",
      "node-verify: all checks passed",
    ]);
    expect(r.code).toBe(0);
  });

  it("reports a wrong sysctl and active swap, runs every other check, and exits non-zero", async () => {
    const files = { ...kubeadmNode(), "/proc/sys/net/ipv4/ip_forward": "0\n", "/proc/swaps": "Filename\tType\tSize\tUsed\tPriority\n/dev/vda2 partition 1048572 0 -2\n" };
    const r = await verify(files, KUBEADM_ENV);
    expect(r.code).toBe(1);
    expect(r.lines.filter((l) => l.startsWith("FAIL"))).toEqual([
      "FAIL sysctl net.ipv4.ip_forward: found '0', expected '1'",
      "FAIL no active swap: active: /dev/vda2 ",
    ]);
    expect(r.lines).toContain("ok   pre-pulled images are exactly 7 expected");
    expect(r.stderr).toBe("node-verify: 2 check(s) failed\n");
  });

  it("fails the exact image set on a missing and on an extra image", async () => {
    const missing = await verify(kubeadmNode(KUBEADM_135_IMAGES.filter((i) => !i.includes("etcd"))), KUBEADM_ENV);
    expect(missing.code).toBe(1);
    expect(missing.lines).toContain("FAIL pre-pulled images: missing: registry.k8s.io/etcd:3.6.6-0 ; unexpected: none");
    sb?.dispose();
    const extra = await verify(kubeadmNode([...KUBEADM_135_IMAGES, "docker.io/library/nginx:1.27"]), KUBEADM_ENV);
    expect(extra.code).toBe(1);
    expect(extra.lines).toContain("FAIL pre-pulled images: missing: none; unexpected: docker.io/library/nginx:1.27 ");
  });

  it("fails a started kubelet, a systemd cgroup driver, a stopped containerd and swap in fstab", async () => {
    const files = kubeadmNode();
    files["/.shim/started"] = "kubelet\n";
    files["/etc/containerd/config.toml"] = (files["/etc/containerd/config.toml"] as string).replace("SystemdCgroup = false", "SystemdCgroup = true");
    files["/etc/fstab"] = "UUID=1 / ext4 rw 0 1\n/swapfile none swap sw 0 0\n";
    const r = await verify(files, KUBEADM_ENV);
    expect(r.code).toBe(1);
    expect(r.lines.filter((l) => l.startsWith("FAIL"))).toEqual([
      "FAIL no swap in /etc/fstab: entries: /swapfile ",
      "FAIL containerd service running: rc-service containerd status says it is not started",
      "FAIL containerd cgroup driver cgroupfs: found 'true', expected 'false'",
      "FAIL kubelet service not started: kubelet is running (it must start only at provisioning)",
    ]);
  });

  it("checks only kernel and runtime for kubeadm with bake none", async () => {
    const r = await verify(kubeadmNode(), { ...KUBEADM_ENV, K8S_BAKE: "none" });
    expect(r.code).toBe(0);
    expect(r.lines.slice(KERNEL_CHECKS.length)).toEqual([
      "ok   containerd service enabled",
      "ok   containerd service running",
      "ok   containerd cgroup driver cgroupfs",
      "ok   containerd sandbox image",
      "ok   containerd CNI dir",
      "node-verify: all checks passed",
    ]);
  });

  it("passes a correct k3s airgap node and fails a tampered binary and a system containerd", async () => {
    const good = await verify(k3sNode(), K3S_ENV);
    expect(good.lines.slice(KERNEL_CHECKS.length)).toEqual([
      "ok   cgroups service enabled",
      "ok   no system containerd enabled",
      "ok   k3s binary checksum",
      `ok   k3s version ${K3S}`,
      "ok   k3s service enabled",
      "ok   k3s service not started",
      "ok   k3s air-gap images checksum",
      "node-verify: all checks passed",
    ]);
    expect(good.code).toBe(0);
    sb?.dispose();

    const files = k3sNode();
    files["/usr/local/bin/k3s"] = exe(fakeK3s("v1.30.0+k3s1"));
    files["/.shim/runlevels"] += "containerd default\n";
    files["/etc/init.d/containerd"] = exe("#!/sbin/openrc-run\n");
    const bad = await verify(files, K3S_ENV);
    expect(bad.code).toBe(1);
    expect(bad.lines.filter((l) => l.startsWith("FAIL"))).toEqual([
      "FAIL no system containerd enabled: containerd is in the default runlevel",
      `FAIL k3s binary checksum: found '${sha256Hex(fakeK3s("v1.30.0+k3s1"))}', expected '${sha256Hex(K3S_BIN)}'`,
      `FAIL k3s version ${K3S}: k3s --version says 'k3s version v1.30.0+k3s1 (0123abcd)'`,
    ]);
  });

  it("distribution none checks the kernel only; a private root mount fails", async () => {
    const files = { ...ALPINE_BASE_FILES, ...GOOD_KERNEL, "/proc/self/mountinfo": "22 1 253:3 / / rw,relatime - ext4 /dev/vda3 rw\n", "/.shim/runlevels": "local default\n" };
    const r = await verify(files, { K8S_DISTRIBUTION: "none", K8S_BAKE: "none", ARCH: "x86_64" });
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([...KERNEL_CHECKS.slice(0, -2), "FAIL root mount shared: / is private in /proc/self/mountinfo", "ok   root mount shared at boot"]);
  });
});
