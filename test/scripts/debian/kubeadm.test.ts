import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEBIAN_BASE_FILES, DEBIAN_SHIMS, fakeKubeadm } from "../../support/debian-shims.js";
import { type FixtureServer, serveFixtures, sha256Hex } from "../../support/fixture-server.js";
import { Sandbox } from "../../support/sandbox.js";
import { needTool } from "../../support/tools.js";
import { KUBEADM_135_IMAGES } from "../fixtures.js";

const VERSION = "v1.35.1";
const CRICTL_VERSION = "v1.35.0";
const PAUSE = "registry.k8s.io/pause:3.10.1";
const SOCKET = "unix:///run/containerd/containerd.sock";
const KUBEADM = fakeKubeadm(VERSION, KUBEADM_135_IMAGES);
const KUBELET = "#!/deb/sh\necho kubelet\n";
const KUBECTL = "#!/deb/sh\necho kubectl\n";

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  await server?.close();
  server = undefined;
});

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
const CRICTL_TGZ = crictlTarball("#!/deb/sh\necho crictl\n");

/** dl.k8s.io (/<version>/bin/linux/<arch>/<bin> + .sha256, bare digest) and the cri-tools release. */
function releases(arch: string, overrides: Record<string, string> = {}): Record<string, string | Buffer> {
  const routes: Record<string, string | Buffer> = {};
  for (const [bin, body] of [["kubeadm", KUBEADM], ["kubelet", KUBELET], ["kubectl", KUBECTL]] as const) {
    routes[`/release/${VERSION}/bin/linux/${arch}/${bin}`] = body;
    routes[`/release/${VERSION}/bin/linux/${arch}/${bin}.sha256`] = overrides[bin] ?? sha256Hex(body);
  }
  const tgz = `crictl-${CRICTL_VERSION}-linux-${arch}.tar.gz`;
  routes[`/cri-tools/${CRICTL_VERSION}/${tgz}`] = CRICTL_TGZ;
  routes[`/cri-tools/${CRICTL_VERSION}/${tgz}.sha256`] = overrides.crictl ?? `${sha256Hex(CRICTL_TGZ)}  ${tgz}\n`;
  return routes;
}

/** A node after k8s-containerd.sh: containerd enabled and running. */
async function node(): Promise<Sandbox> {
  sb = await Sandbox.create({
    userland: "debian",
    shims: DEBIAN_SHIMS,
    files: {
      ...DEBIAN_BASE_FILES,
      "/usr/lib/systemd/system/containerd.service": "[Service]\n",
      "/.shim/enabled": "containerd.service\n",
      "/.shim/active": "containerd.service\n",
    },
  });
  return sb;
}

const env = (bake: string, extra: Record<string, string> = {}) => ({
  K8S_VERSION: VERSION, K8S_BAKE: bake, PAUSE_IMAGE: PAUSE, ARCH: "x86_64",
  K8S_DOWNLOAD_URL: `${server!.url}/release`, CRICTL_DOWNLOAD_URL: `${server!.url}/cri-tools`, ...extra,
});

describe.skipIf(!(needTool("bwrap") && needTool("dash") && needTool("curl")))("debian/k8s-kubeadm.sh", () => {
  it("airgap: verified upstream binaries and crictl in /usr/bin, kubelet unit + kubeadm drop-in, enabled not started, images recorded", async () => {
    server = await serveFixtures(releases("amd64"));
    const s = await node();
    const r = await s.run("debian/k8s-kubeadm.sh", env("airgap"));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(s.calls()).toEqual([
      "apt-get update",
      "apt-get install -y --no-install-recommends curl ca-certificates iptables iproute2 socat ethtool conntrack tar gzip",
      `kubeadm version -o short`,
      "systemctl daemon-reload",
      "systemctl enable kubelet",
      `kubeadm config images list --kubernetes-version ${VERSION}`,
      `kubeadm config images pull --kubernetes-version ${VERSION} --cri-socket ${SOCKET}`,
    ]);
    for (const [bin, body] of [["kubeadm", KUBEADM], ["kubelet", KUBELET], ["kubectl", KUBECTL], ["crictl", "#!/deb/sh\necho crictl\n"]]) {
      expect(s.read(`/usr/bin/${bin}`)).toBe(body);
      expect(s.mode(`/usr/bin/${bin}`)).toBe(0o755);
    }
    expect(s.read("/etc/systemd/system/kubelet.service")).toContain("ExecStart=/usr/bin/kubelet\n");
    const dropIn = s.read("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf");
    expect(dropIn).toContain("EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n");
    expect(dropIn).toContain('Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"\n');
    expect(dropIn).toContain("--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf");
    expect(dropIn).toMatch(/\nExecStart=\nExecStart=\/usr\/bin\/kubelet \$KUBELET_KUBECONFIG_ARGS \$KUBELET_CONFIG_ARGS \$KUBELET_KUBEADM_ARGS \$KUBELET_EXTRA_ARGS\n/);
    const kubeadmConfig = s.read("/etc/kubernetes/kubeadm-config.yaml");
    expect(kubeadmConfig).toContain("apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  criSocket: unix:///run/containerd/containerd.sock\n");
    expect(kubeadmConfig).toContain(`kubernetesVersion: ${VERSION}\n`);
    expect(kubeadmConfig).toMatch(/kind: KubeletConfiguration\ncgroupDriver: systemd\n$/);
    expect(s.read("/etc/crictl.yaml")).toBe(`runtime-endpoint: ${SOCKET}\nimage-endpoint: ${SOCKET}\ntimeout: 10\n`);
    expect(s.read("/etc/kubernetes-version")).toBe(`${VERSION}\n`);
    expect(s.read("/.shim/enabled")).toBe("containerd.service\nkubelet.service\n");
    expect(s.read("/.shim/active")).toBe("containerd.service\n"); // kubelet not started
    expect(s.read("/etc/homelab/kubeadm-images.txt")).toBe(`${[...KUBEADM_135_IMAGES].sort().join("\n")}\n`);
    expect(server.requests).toEqual([
      ...["kubeadm", "kubelet", "kubectl"].flatMap((b) => [`/release/${VERSION}/bin/linux/amd64/${b}`, `/release/${VERSION}/bin/linux/amd64/${b}.sha256`]),
      `/cri-tools/${CRICTL_VERSION}/crictl-${CRICTL_VERSION}-linux-amd64.tar.gz`,
      `/cri-tools/${CRICTL_VERSION}/crictl-${CRICTL_VERSION}-linux-amd64.tar.gz.sha256`,
    ]);
    expect(readdirTmp(s)).toEqual([]);
  });

  it("binary on aarch64: arm64 downloads, no image pull and no image list", async () => {
    server = await serveFixtures(releases("arm64"));
    const s = await node();
    const r = await s.run("debian/k8s-kubeadm.sh", env("binary", { ARCH: "aarch64" }));
    expect(r.code).toBe(0);
    expect(s.callsOf("kubeadm")).toEqual(["kubeadm version -o short"]);
    expect(s.exists("/etc/homelab/kubeadm-images.txt")).toBe(false);
    expect(server.requests.every((p) => p.includes("arm64"))).toBe(true);
  });

  it.each([["kubelet"], ["crictl"]])("a wrong %s checksum installs nothing and enables nothing", async (which) => {
    server = await serveFixtures(releases("amd64", { [which]: "0".repeat(64) }));
    const s = await node();
    const r = await s.run("debian/k8s-kubeadm.sh", env("binary"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/.*(kubelet|crictl-v1\.35\.0-linux-amd64\.tar\.gz): got [0-9a-f]{64}, expected 0{64}/);
    for (const bin of ["kubeadm", "kubelet", "kubectl", "crictl"]) expect(s.exists(`/usr/bin/${bin}`)).toBe(false);
    expect(s.exists("/etc/systemd/system/kubelet.service")).toBe(false);
    expect(s.callsOf("systemctl")).toEqual([]);
    expect(readdirTmp(s)).toEqual([]);
  });

  it.each([
    [{ K8S_VERSION: "1.35.1" }, "K8S_VERSION '1.35.1' is not a Kubernetes version"],
    [{ K8S_BAKE: "none" }, "K8S_BAKE 'none' must be airgap or binary"],
    [{ ARCH: "riscv64" }, "ARCH 'riscv64' must be x86_64 or aarch64"],
    [{ CRICTL_DOWNLOAD_URL: "file:///etc" }, "CRICTL_DOWNLOAD_URL 'file:///etc' is not an http(s) URL"],
  ])("rejects %j before touching the system", async (bad, message) => {
    server = await serveFixtures({});
    const s = await node();
    const r = await s.run("debian/k8s-kubeadm.sh", env("binary", bad));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(s.calls()).toEqual([]);
  });
});

/** Leftover staging directories of the script under /var/tmp. */
function readdirTmp(s: Sandbox): string[] {
  return execFileSync("ls", ["-A", s.path("/var/tmp")], { encoding: "utf8" }).split("\n").filter(Boolean);
}
