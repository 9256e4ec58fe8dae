import { afterEach, describe, expect, it } from "vitest";
import { DEBIAN_BASE_FILES, DEBIAN_SHIMS, fakeK3s } from "../../support/debian-shims.js";
import { type FixtureServer, serveFixtures, sha256Hex } from "../../support/fixture-server.js";
import { Sandbox } from "../../support/sandbox.js";
import { needTool } from "../../support/tools.js";

const VERSION = "v1.31.4+k3s1";
const TAG = "/v1.31.4%2Bk3s1";
const BIN = fakeK3s(VERSION);
const IMAGES = Buffer.from("(zstd tarball of the k3s air-gap images)\n".repeat(64));
/** /sys/fs/cgroup/cgroup.controllers of a Debian 12 guest (cgroup v2, unified). */
const CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc\n";

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  await server?.close();
  server = undefined;
});

/** The release as GitHub serves it: sha256sum-<arch>.txt in `sha256sum` format, then the assets. */
function release(arch: "amd64" | "arm64", sums?: string): Record<string, string | Buffer> {
  const asset = arch === "amd64" ? "k3s" : "k3s-arm64";
  const tarball = `k3s-airgap-images-${arch}.tar.zst`;
  return {
    [`${TAG}/sha256sum-${arch}.txt`]: sums ?? `${sha256Hex(IMAGES)}  ${tarball}\n${sha256Hex(BIN)}  ${asset}\n`,
    [`${TAG}/${asset}`]: BIN,
    [`${TAG}/${tarball}`]: IMAGES,
  };
}

async function run(routes: Record<string, string | Buffer>, env: Record<string, string>, controllers = CONTROLLERS) {
  server = await serveFixtures(routes);
  sb = await Sandbox.create({ userland: "debian", shims: DEBIAN_SHIMS, files: { ...DEBIAN_BASE_FILES, "/sys/fs/cgroup/cgroup.controllers": controllers } });
  return sb.run("debian/k8s-k3s.sh", { K3S_DOWNLOAD_URL: `${server.url}/`, ...env });
}

describe.skipIf(!(needTool("bwrap") && needTool("dash") && needTool("curl")))("debian/k8s-k3s.sh", () => {
  it("airgap x86_64: verified binary and images, systemd unit enabled not started, no system containerd", async () => {
    const r = await run(release("amd64"), { K3S_VERSION: VERSION, K8S_BAKE: "airgap", ARCH: "x86_64" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual([`${TAG}/sha256sum-amd64.txt`, `${TAG}/k3s`, `${TAG}/k3s-airgap-images-amd64.tar.zst`]);
    const s = sb!;
    expect(s.calls()).toEqual([
      "apt-get update",
      "apt-get install -y --no-install-recommends curl ca-certificates",
      "systemctl daemon-reload",
      "systemctl enable k3s",
    ]);
    expect(s.read("/usr/local/bin/k3s")).toBe(BIN);
    expect(s.mode("/usr/local/bin/k3s")).toBe(0o755);
    expect(s.read("/etc/homelab/k3s.sha256")).toBe(
      `${sha256Hex(BIN)}  /usr/local/bin/k3s\n${sha256Hex(IMAGES)}  /var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst\n`,
    );
    expect(s.read("/etc/k3s-version")).toBe(`${VERSION}\n`);
    const unit = s.read("/etc/systemd/system/k3s.service");
    expect(unit).toContain("ExecStart=/usr/local/bin/k3s $K3S_EXEC $K3S_OPTS\n");
    expect(unit).toContain("Delegate=yes\n");
    expect(unit).toContain("Type=notify\n");
    expect(s.read("/etc/default/k3s")).toContain("K3S_EXEC=server\n");
    expect(s.read("/.shim/enabled")).toBe("k3s.service\n");
    expect(s.exists("/.shim/active")).toBe(false);
    const links = await s.exec(["/deb/sh", "-c", "for c in kubectl crictl ctr; do readlink /usr/local/bin/$c; done"]);
    expect(links.stdout).toBe("k3s\nk3s\nk3s\n");
    expect(s.exists("/usr/lib/systemd/system/containerd.service")).toBe(false);
  });

  it("binary aarch64: k3s-arm64 only, no image tarball", async () => {
    const r = await run(release("arm64"), { K3S_VERSION: VERSION, K8S_BAKE: "binary", ARCH: "aarch64" });
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual([`${TAG}/sha256sum-arm64.txt`, `${TAG}/k3s-arm64`]);
    expect(sb!.exists("/var/lib/rancher/k3s/agent/images")).toBe(false);
    expect(sb!.read("/etc/homelab/k3s.sha256")).toBe(`${sha256Hex(BIN)}  /usr/local/bin/k3s\n`);
  });

  it("bake none: checks the cgroup v2 controllers, downloads and installs nothing", async () => {
    const r = await run(release("amd64"), { K8S_BAKE: "none", ARCH: "x86_64" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("cgroup v2 with cpu, memory and pids");
    expect(sb!.calls()).toEqual([]);
    expect(server!.requests).toEqual([]);
  });

  it("fails when the memory controller is missing (k3s would refuse to start)", async () => {
    const r = await run(release("amd64"), { K8S_BAKE: "none", ARCH: "x86_64" }, "cpuset cpu io pids\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cgroup v2 controller 'memory' is not available");
  });

  it("a tampered binary installs nothing and enables nothing", async () => {
    const routes = release("amd64");
    routes[`${TAG}/k3s`] = `${BIN}# tampered\n`;
    const r = await run(routes, { K3S_VERSION: VERSION, K8S_BAKE: "airgap", ARCH: "x86_64" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checksum mismatch for k3s of v1\.31\.4\+k3s1: got [0-9a-f]{64}, expected [0-9a-f]{64}/);
    expect(sb!.exists("/usr/local/bin/k3s")).toBe(false);
    expect(sb!.exists("/etc/systemd/system/k3s.service")).toBe(false);
    expect(sb!.callsOf("systemctl")).toEqual([]);
  });

  it("a release without an entry for the binary installs nothing", async () => {
    const r = await run(release("amd64", `${sha256Hex(IMAGES)}  k3s-airgap-images-amd64.tar.zst\n`), { K3S_VERSION: VERSION, K8S_BAKE: "binary", ARCH: "x86_64" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no entry for k3s in sha256sum-amd64.txt");
    expect(sb!.exists("/usr/local/bin/k3s")).toBe(false);
  });
});
