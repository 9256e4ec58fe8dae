import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { FAMILIES, type FamilyUserland, type Files } from "../support/shims.js";
import { bootCheckStandIns, standInK3s } from "../support/stand-ins.js";
import { KUBEADM_135_IMAGES } from "./fixtures.js";

/**
 * The boot check (k8s-boot-check.sh) against STAND-INS of kubeadm, kubectl, k3s, iptables, ip
 * and journalctl (test/support/stand-ins.ts): the real programs cannot run here. What is checked
 * is the script's part: offline before anything boots, the proof, the log quoted on failure, and
 * the node put back exactly as it was, whatever happened.
 */

const K3S = "v1.31.4+k3s1";
/** A user's firewall rules and CNI config: the boot check must leave them as they were. */
const USER_RULES = "-N USER-IN\n-A INPUT -s 192.168.0.0/16 -j USER-IN\n";
const USER_CNI = '{"cniVersion":"1.0.0","name":"mine","plugins":[]}\n';

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

const exe = (content: string) => ({ content, mode: 0o755 });

/** A node as bake airgap leaves it (kubeadm): images in containerd, the baked config, the kubelet enabled and stopped. */
function kubeadmNode(fam: FamilyUserland): Files {
  const unit = fam.unit.bind(fam);
  return {
    "/proc/sys/kernel/hostname": "Debian\n",
    "/var/tmp/.keep": "",
    "/etc/kubernetes/kubeadm-config.yaml": "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.35.1\n",
    "/etc/crictl.yaml": "runtime-endpoint: unix:///run/containerd/containerd.sock\n",
    "/etc/cni/net.d/10-mine.conflist": USER_CNI,
    "/.shim/images": `${KUBEADM_135_IMAGES.join("\n")}\n`,
    "/.shim/active": `${unit("containerd")}\n`,
    "/.shim/enabled": `${unit("containerd")}\n${unit("kubelet")}\n`,
    "/.shim/iptables.rules": USER_RULES,
    "/.shim/journal/kubelet.service": 'E1201 06:01:02 kubelet.go:1566 "Failed to start ContainerManager" err="failed to initialize top level QOS containers"\n',
    "/var/log/kubelet/kubelet.log": 'E1201 06:01:02 kubelet.go:1566 "Failed to start ContainerManager" err="failed to initialize top level QOS containers"\n',
  };
}

/** A node as bake airgap leaves it (k3s): the binary and the airgap tarball, nothing started. */
function k3sNode(fam: FamilyUserland): Files {
  return {
    "/proc/sys/kernel/hostname": "alpine\n",
    "/var/tmp/.keep": "",
    "/usr/local/bin/k3s": exe(standInK3s(fam, K3S)),
    "/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst": "zstd tarball\n",
    "/.shim/iptables.rules": USER_RULES,
    // iptables is installed (so the check installs nothing).
    "/usr/sbin/iptables": exe("#!/bin/false\n"),
  };
}

const KUBEADM_TRACES = ["/etc/kubernetes/manifests", "/etc/kubernetes/pki", "/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf", "/etc/kubernetes/kubelet.conf", "/var/lib/etcd", "/var/lib/kubelet"];
const K3S_TRACES = ["/var/lib/rancher/k3s/server", "/var/lib/rancher/k3s/data", "/var/lib/rancher/k3s/agent/containerd", "/var/lib/rancher/k3s/agent/etc", "/etc/rancher/k3s/k3s.yaml", "/etc/rancher/node", "/run/k3s", "/var/lib/kubelet", "/sys/class/net/cni0", "/sys/class/net/flannel.1"];

const node = (fam: FamilyUserland, files: Files) => familySandbox(fam, files).then((s) => {
  for (const [name, body] of Object.entries(bootCheckStandIns(fam))) s.shim(name, body);
  return s;
});
const run = (s: Sandbox, fam: FamilyUserland, env: Record<string, string>) => s.run(shippedScript(fam.family, "k8s-boot-check"), env);

/** The node is as it was: no trace, the user's rules and CNI config intact, nothing left in /var/tmp. */
function expectPutBack(s: Sandbox, traces: string[]): void {
  expect(traces.filter((t) => s.exists(t))).toEqual([]);
  expect(s.read("/.shim/iptables.rules")).toBe(USER_RULES);
  expect(readdirSync(s.path("/var/tmp"))).toEqual([".keep"]);
}

describe.each(FAMILIES)("k8s-boot-check on $family", (fam) => {
  it.skipIf(!canRun(fam))("kubeadm: offline first, init with the baked config, API ready and node registered, reset, every trace gone", async () => {
    sb = await node(fam, kubeadmNode(fam));
    const r = await run(sb, fam, { K8S_DISTRIBUTION: "kubeadm" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const calls = sb.calls();
    const offline = calls.indexOf("iptables -w -I OUTPUT 1 -j HOMELAB-OFFLINE");
    const init = calls.indexOf("kubeadm init --config /etc/kubernetes/kubeadm-config.yaml");
    expect(offline).toBeGreaterThan(-1);
    expect(calls).toContain("iptables -w -I FORWARD 1 -o eth0 -j HOMELAB-OFFLINE");
    expect(init).toBeGreaterThan(offline);
    expect(calls.slice(init)).toEqual(expect.arrayContaining([
      "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /readyz",
      "kubectl --kubeconfig /etc/kubernetes/admin.conf get node debian -o name",
      "kubeadm reset -f",
    ]));
    expect(r.stdout).toContain("API server ready, node debian registered");
    expect(r.stdout).toMatch(/Kubernetes booted offline and was taken down; no trace left\n$/);
    // reset leaves the emptied directories and kube-proxy's chains: the check removes them.
    expectPutBack(sb, KUBEADM_TRACES);
    expect(sb.read("/etc/kubernetes/kubeadm-config.yaml")).toContain("kubernetesVersion: v1.35.1");
    expect(sb.read("/etc/cni/net.d/10-mine.conflist")).toBe(USER_CNI);
    expect(sb.read("/.shim/active")).toBe(`${fam.unit("containerd")}\n`);
    expect(sb.read("/.shim/enabled")).toContain(fam.unit("kubelet"));
    expect(sb.read("/.shim/images")).toBe(`${KUBEADM_135_IMAGES.join("\n")}\n`);
  });

  it.skipIf(!canRun(fam))("kubeadm: a failed init fails the build with the kubelet's log quoted, and still cleans up", async () => {
    sb = await node(fam, { ...kubeadmNode(fam), "/.shim/init-fail": "" });
    const r = await run(sb, fam, { K8S_DISTRIBUTION: "kubeadm" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error execution phase wait-control-plane");
    expect(r.stderr).toContain("--- last lines of the kubelet log ---");
    expect(r.stderr).toContain('"Failed to start ContainerManager"');
    expect(r.stderr).toContain("k8s-boot-check: ERROR: kubeadm init failed offline with the baked config and images");
    expectPutBack(sb, KUBEADM_TRACES);
  });

  it.skipIf(!canRun(fam))("kubeadm: an API server that never gets ready fails (BOOT_TIMEOUT), log quoted, node cleaned", async () => {
    sb = await node(fam, { ...kubeadmNode(fam), "/.shim/api-down": "" });
    const r = await run(sb, fam, { K8S_DISTRIBUTION: "kubeadm", BOOT_TIMEOUT: "0" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the API server did not become ready (/readyz) within 0 s");
    expect(r.stderr).toContain('"Failed to start ContainerManager"');
    expectPutBack(sb, KUBEADM_TRACES);
  });

  it.skipIf(!canRun(fam))("kubeadm: an image that appeared during the check (a pull) fails it", async () => {
    sb = await node(fam, { ...kubeadmNode(fam), "/.shim/init-pulls": "" });
    const r = await run(sb, fam, { K8S_DISTRIBUTION: "kubeadm" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the image list changed during the boot check (something was pulled or removed): added: registry.k8s.io/coredns/coredns:v1.99.0 removed: \n");
    expectPutBack(sb, KUBEADM_TRACES);
  });

  it.skipIf(!canRun(fam))("k3s: the server runs from the baked binary offline until the node is Ready, then every trace is gone", async () => {
    sb = await node(fam, k3sNode(fam));
    const r = await run(sb, fam, { K8S_DISTRIBUTION: "k3s" });
    expect(r.stderr).toBe("");
    expect(r.code, r.stdout).toBe(0);
    const calls = sb.calls();
    expect(calls.indexOf("k3s server --write-kubeconfig-mode 600")).toBeGreaterThan(calls.indexOf("iptables -w -I OUTPUT 1 -j HOMELAB-OFFLINE"));
    expect(calls).toContain("k3s kubectl get node alpine --no-headers");
    expect(r.stdout).toContain("node alpine Ready");
    expectPutBack(sb, K3S_TRACES);
    // The baked images stay; the node was never told a role.
    expect(sb.read("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst")).toBe("zstd tarball\n");
    expect(sb.exists("/etc/rancher/k3s/config.yaml")).toBe(false);
  });

  it.skipIf(!canRun(fam))("k3s: a server that exits fails the build with its log quoted, and the node is cleaned", async () => {
    sb = await node(fam, { ...k3sNode(fam), "/.shim/k3s-crash": "" });
    const r = await run(sb, fam, { K8S_DISTRIBUTION: "k3s" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--- last lines of the k3s log ---");
    expect(r.stderr).toContain('level=fatal msg="failed to find memory cgroup (v2)"');
    expect(r.stderr).toContain("k3s server exited (status 1) before the node was Ready");
    expectPutBack(sb, K3S_TRACES);
  });

  it.skipIf(!canRun(fam))("k3s: a node that never gets Ready fails (BOOT_TIMEOUT)", async () => {
    sb = await node(fam, { ...k3sNode(fam), "/.shim/k3s-notready": "" });
    const r = await run(sb, fam, { K8S_DISTRIBUTION: "k3s", BOOT_TIMEOUT: "0" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("node alpine did not become Ready within 0 s");
    expectPutBack(sb, K3S_TRACES);
  });

  it.skipIf(!canRun(fam)).each([[{ K8S_DISTRIBUTION: "none" }, "must be kubeadm or k3s"], [{ K8S_DISTRIBUTION: "k3s", BOOT_TIMEOUT: "soon" }, "is not a number of seconds"]])(
    "refuses %j before touching anything",
    async (env, message) => {
      sb = await node(fam, k3sNode(fam));
      const r = await run(sb, fam, env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
      expect(sb.calls()).toEqual([]);
    },
  );
});
