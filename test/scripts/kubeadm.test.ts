import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { ALPINE_BASE_FILES, ALPINE_SHIMS, fakeKubeadm } from "../support/alpine-shims.js";
import { type FixtureServer, serveFixtures, sha256Hex } from "../support/fixture-server.js";
import { Sandbox } from "../support/sandbox.js";
import { needTool } from "../support/tools.js";
import { KUBEADM_135_IMAGES, KUBELET_CONFD, KUBELET_INITD } from "./fixtures.js";

const VERSION = "v1.35.1";
const PAUSE = "registry.k8s.io/pause:3.10.1";
const SOCKET = "unix:///run/containerd/containerd.sock";
const KUBEADM = fakeKubeadm(VERSION, KUBEADM_135_IMAGES);
const KUBELET = "#!/bb/sh\necho kubelet\n";
const KUBECTL = "#!/bb/sh\necho kubectl\n";

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  await server?.close();
  server = undefined;
});

/** A node after k8s-containerd.sh (containerd enabled and running) whose repo has `repoVersion`. */
async function node(repoVersion: string | undefined): Promise<Sandbox> {
  const files: Record<string, string | { content: string; mode: number }> = {
    ...ALPINE_BASE_FILES,
    "/etc/init.d/containerd": { content: "#!/sbin/openrc-run\n", mode: 0o755 },
    "/.shim/started": "containerd\n",
    "/.shim/runlevels": "cgroups default\ncontainerd default\n",
    "/.shim/apk-pkgs/kubelet-openrc/etc/init.d/kubelet": { content: KUBELET_INITD, mode: 0o755 },
    "/.shim/apk-pkgs/kubelet-openrc/etc/conf.d/kubelet": KUBELET_CONFD,
    "/.shim/apk-pkgs/kubeadm/usr/bin/kubeadm": { content: KUBEADM, mode: 0o755 },
    "/.shim/apk-pkgs/kubelet/usr/bin/kubelet": { content: KUBELET, mode: 0o755 },
    "/.shim/apk-pkgs/kubectl/usr/bin/kubectl": { content: KUBECTL, mode: 0o755 },
  };
  if (repoVersion) files["/.shim/apk-policy/kubeadm"] = `${repoVersion}\n`;
  sb = await Sandbox.create({ files, shims: ALPINE_SHIMS });
  return sb;
}

/** dl.k8s.io's layout: /<version>/bin/linux/<arch>/<bin> and <bin>.sha256 (the bare hex digest). */
function dlK8s(arch: string, overrides: Record<string, string> = {}): Record<string, string> {
  const routes: Record<string, string> = {};
  for (const [bin, body] of [["kubeadm", KUBEADM], ["kubelet", KUBELET], ["kubectl", KUBECTL]] as const) {
    routes[`/release/${VERSION}/bin/linux/${arch}/${bin}`] = body;
    routes[`/release/${VERSION}/bin/linux/${arch}/${bin}.sha256`] = overrides[bin] ?? sha256Hex(body);
  }
  return routes;
}

const env = (bake: string, extra: Record<string, string> = {}) => ({ K8S_VERSION: VERSION, K8S_BAKE: bake, PAUSE_IMAGE: PAUSE, ARCH: "x86_64", ...extra });

describe.skipIf(!(needTool("bwrap") && needTool("busybox")))("k8s-kubeadm.sh", () => {
  it("airgap from Alpine's repo: fuzzy pins, kubelet enabled not started, images pulled and recorded", async () => {
    const s = await node("1.35.1-r2");
    const r = await s.run("k8s-kubeadm.sh", env("airgap"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(s.calls()).toEqual([
      "apk policy kubeadm",
      "apk add kubeadm~=1.35 kubelet~=1.35 kubectl~=1.35 kubelet-openrc~=1.35 cri-tools",
      "kubeadm version -o short",
      "rc-update add kubelet default",
      `kubeadm config images list --kubernetes-version ${VERSION}`,
      `kubeadm config images pull --kubernetes-version ${VERSION} --cri-socket ${SOCKET}`,
    ]);
    expect(s.read("/.shim/started")).toBe("containerd\n"); // the kubelet was not started
    expect(s.read("/etc/homelab/kubeadm-images.txt")).toBe([...KUBEADM_135_IMAGES].sort().join("\n") + "\n");
    const kubeadmConfig = s.read("/etc/kubernetes/kubeadm-config.yaml");
    expect(kubeadmConfig).toContain("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  criSocket: unix:///run/containerd/containerd.sock\n");
    expect(kubeadmConfig).toContain(`kind: ClusterConfiguration\nkubernetesVersion: ${VERSION}\n`);
    expect(kubeadmConfig).toContain("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: cgroupfs\n");
    expect(s.read("/etc/crictl.yaml")).toBe(`runtime-endpoint: ${SOCKET}\nimage-endpoint: ${SOCKET}\ntimeout: 10\n`);
    expect(s.read("/etc/kubernetes-version")).toBe(`${VERSION}\n`);
  });

  it("binary from upstream when the repo ships another version: every binary verified, then installed", async () => {
    const s = await node("1.34.12-r0");
    server = await serveFixtures(dlK8s("amd64"));
    const r = await s.run("k8s-kubeadm.sh", env("binary", { K8S_DOWNLOAD_URL: `${server.url}/release` }));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(server.requests).toEqual(
      ["kubeadm", "kubelet", "kubectl"].flatMap((b) => [`/release/${VERSION}/bin/linux/amd64/${b}`, `/release/${VERSION}/bin/linux/amd64/${b}.sha256`]),
    );
    expect(s.calls()).toEqual([
      "apk policy kubeadm",
      "apk add kubelet-openrc cri-tools iptables iproute2 socat ethtool conntrack-tools",
      "kubeadm version -o short",
      "rc-update add kubelet default",
    ]);
    expect(s.read("/usr/bin/kubelet")).toBe(KUBELET);
    for (const bin of ["kubeadm", "kubelet", "kubectl"]) expect(s.mode(`/usr/bin/${bin}`)).toBe(0o755);
    expect(s.exists("/etc/homelab/kubeadm-images.txt")).toBe(false);
    expect(readdirSync(s.path("/var/tmp"))).toEqual([]);
  });

  it("uses the arm64 downloads on aarch64", async () => {
    const s = await node(undefined);
    server = await serveFixtures(dlK8s("arm64"));
    const r = await s.run("k8s-kubeadm.sh", env("binary", { ARCH: "aarch64", K8S_DOWNLOAD_URL: `${server.url}/release/` }));
    expect(r.code).toBe(0);
    expect(server.requests[0]).toBe(`/release/${VERSION}/bin/linux/arm64/kubeadm`);
  });

  it("a wrong upstream .sha256 stops the build and installs none of the binaries", async () => {
    const s = await node("1.34.12-r0");
    server = await serveFixtures(dlK8s("amd64", { kubectl: sha256Hex("something else") }));
    const r = await s.run("k8s-kubeadm.sh", env("airgap", { K8S_DOWNLOAD_URL: `${server.url}/release` }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`checksum mismatch for ${server.url}/release/${VERSION}/bin/linux/amd64/kubectl: got ${sha256Hex(KUBECTL)}, expected ${sha256Hex("something else")}`);
    for (const bin of ["kubeadm", "kubelet", "kubectl"]) expect(s.exists(`/usr/bin/${bin}`)).toBe(false);
    expect(s.callsOf("rc-update")).toEqual([]);
  });

  it("pulls the pinned pause image too when kubeadm expects another one, and records it", async () => {
    const s = await node("1.35.1-r0");
    const r = await s.run("k8s-kubeadm.sh", env("airgap", { PAUSE_IMAGE: "registry.k8s.io/pause:3.9" }));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("WARNING: PAUSE_IMAGE registry.k8s.io/pause:3.9 is not kubeadm's pause image");
    expect(s.callsOf("crictl")).toEqual(["crictl pull registry.k8s.io/pause:3.9"]);
    expect(s.read("/etc/homelab/kubeadm-images.txt").split("\n")).toContain("registry.k8s.io/pause:3.9");
  });

  it("fails when the installed kubeadm is not the pinned version", async () => {
    const s = await node("1.35.1-r0");
    s.write("/.shim/apk-pkgs/kubeadm/usr/bin/kubeadm", { content: fakeKubeadm("v1.35.0", KUBEADM_135_IMAGES), mode: 0o755 });
    const r = await s.run("k8s-kubeadm.sh", env("binary"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`installed kubeadm is v1.35.0, expected ${VERSION}`);
  });

  it.each([
    [{ K8S_VERSION: "1.35.1" }, "K8S_VERSION"],
    [{ K8S_BAKE: "none" }, "K8S_BAKE"],
    [{ ARCH: "armv7" }, "ARCH"],
    [{ K8S_DOWNLOAD_URL: "ftp://mirror/x" }, "K8S_DOWNLOAD_URL"],
    [{ K8S_DOWNLOAD_URL: "https://x/$(reboot)" }, "K8S_DOWNLOAD_URL"],
  ])("rejects %j before touching the system", async (bad, name) => {
    const s = await node("1.35.1-r0");
    const r = await s.run("k8s-kubeadm.sh", { ...env("airgap"), ...bad });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(name);
    expect(s.calls()).toEqual([]);
  });
});
