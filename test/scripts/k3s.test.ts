import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { ALPINE_BASE_FILES, ALPINE_SHIMS, fakeK3s } from "../support/alpine-shims.js";
import { type FixtureServer, serveFixtures, sha256Hex } from "../support/fixture-server.js";
import { Sandbox } from "../support/sandbox.js";
import { needTool } from "../support/tools.js";

const VERSION = "v1.31.4+k3s1";
const TAG = "/v1.31.4%2Bk3s1";
const BIN = fakeK3s(VERSION);
const IMAGES = Buffer.from("(zstd tarball of the k3s air-gap images)\n".repeat(64));

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  await server?.close();
});

/** The release as GitHub serves it: sha256sum-<arch>.txt in `sha256sum` format, then the assets. */
function release(arch: "amd64" | "arm64", sums?: string): Record<string, string | Buffer> {
  const asset = arch === "amd64" ? "k3s" : "k3s-arm64";
  const tarball = `k3s-airgap-images-${arch}.tar.zst`;
  return {
    [`${TAG}/sha256sum-${arch}.txt`]:
      sums ?? `${sha256Hex(IMAGES)}  ${tarball}\n${sha256Hex("other")}  k3s-airgap-images-${arch}.tar\n${sha256Hex(BIN)}  ${asset}\n`,
    [`${TAG}/${asset}`]: BIN,
    [`${TAG}/${tarball}`]: IMAGES,
  };
}

async function run(routes: Record<string, string | Buffer>, env: Record<string, string>) {
  server = await serveFixtures(routes);
  sb = await Sandbox.create({ files: ALPINE_BASE_FILES, shims: ALPINE_SHIMS });
  return sb.run("k8s-k3s.sh", { K3S_DOWNLOAD_URL: `${server.url}/`, ...env });
}

describe.skipIf(!(needTool("bwrap") && needTool("busybox")))("k8s-k3s.sh", () => {
  it("airgap x86_64: downloads the pinned release (+ encoded), verifies, installs, enables without starting", async () => {
    const r = await run(release("amd64"), { K3S_VERSION: VERSION, K8S_BAKE: "airgap", ARCH: "x86_64" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual([`${TAG}/sha256sum-amd64.txt`, `${TAG}/k3s`, `${TAG}/k3s-airgap-images-amd64.tar.zst`]);
    const s = sb!;
    expect(s.read("/usr/local/bin/k3s")).toBe(BIN);
    expect(s.mode("/usr/local/bin/k3s")).toBe(0o755);
    expect(s.read("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst")).toBe(IMAGES.toString());
    expect(s.read("/etc/homelab/k3s.sha256")).toBe(
      `${sha256Hex(BIN)}  /usr/local/bin/k3s\n${sha256Hex(IMAGES)}  /var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst\n`,
    );
    expect(s.read("/etc/k3s-version")).toBe(`${VERSION}\n`);
    for (const cmd of ["kubectl", "crictl", "ctr"]) expect(s.exists(`/usr/local/bin/${cmd}`)).toBe(true);
    const initd = s.read("/etc/init.d/k3s");
    expect(initd).toMatch(/^#!\/sbin\/openrc-run\n/);
    expect(initd).toContain("command=/usr/local/bin/k3s\n");
    expect(initd).toMatch(/need cgroups/);
    expect(s.mode("/etc/init.d/k3s")).toBe(0o755);
    expect(s.read("/etc/conf.d/k3s")).toContain('K3S_EXEC="server"');
    // Enabled, not started; no package manager, no system containerd.
    expect(s.calls()).toEqual(["rc-update add cgroups default", "rc-update add k3s default"]);
    // The service it wrote actually runs the installed binary.
    const version = await s.exec(["/usr/local/bin/k3s", "--version"]);
    expect(version.stdout).toContain(`k3s version ${VERSION} `);
  });

  it("binary aarch64: fetches k3s-arm64 against sha256sum-arm64.txt and no images", async () => {
    const r = await run(release("arm64"), { K3S_VERSION: VERSION, K8S_BAKE: "binary", ARCH: "aarch64" });
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual([`${TAG}/sha256sum-arm64.txt`, `${TAG}/k3s-arm64`]);
    expect(sb!.read("/usr/local/bin/k3s")).toBe(BIN);
    expect(sb!.exists("/var/lib/rancher/k3s/agent/images")).toBe(false);
    expect(sb!.read("/etc/homelab/k3s.sha256")).toBe(`${sha256Hex(BIN)}  /usr/local/bin/k3s\n`);
  });

  it("a wrong binary checksum stops the build and installs nothing", async () => {
    const routes = release("amd64", `${sha256Hex(IMAGES)}  k3s-airgap-images-amd64.tar.zst\n${sha256Hex("tampered")}  k3s\n`);
    const r = await run(routes, { K3S_VERSION: VERSION, K8S_BAKE: "airgap", ARCH: "x86_64" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`checksum mismatch for k3s of ${VERSION}: got ${sha256Hex(BIN)}, expected ${sha256Hex("tampered")}`);
    expect(sb!.exists("/usr/local/bin/k3s")).toBe(false);
    expect(sb!.exists("/etc/init.d/k3s")).toBe(false);
    expect(sb!.callsOf("rc-update")).toEqual(["rc-update add cgroups default"]);
    // The staging directory with the unverified download is gone too.
    expect(readdirSync(sb!.path("/var/tmp"))).toEqual([]);
  });

  it("a missing entry for the images tarball stops the build before the binary is installed", async () => {
    const routes = release("amd64", `${sha256Hex(BIN)}  k3s\n`);
    const r = await run(routes, { K3S_VERSION: VERSION, K8S_BAKE: "airgap", ARCH: "x86_64" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("no entry for k3s-airgap-images-amd64.tar.zst in sha256sum-amd64.txt");
    expect(sb!.exists("/usr/local/bin/k3s")).toBe(false);
    expect(sb!.exists("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst")).toBe(false);
  });

  it("a release that is not there (404) stops the build", async () => {
    const r = await run({}, { K3S_VERSION: VERSION, K8S_BAKE: "binary", ARCH: "x86_64" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`download failed: ${server!.url}${TAG}/sha256sum-amd64.txt`);
  });

  it("bake none only enables cgroups and downloads nothing", async () => {
    const r = await run(release("amd64"), { K8S_BAKE: "none", ARCH: "x86_64" });
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual([]);
    expect(sb!.calls()).toEqual(["rc-update add cgroups default"]);
  });

  it.each([["v1.31.4"], ["v1.31.4+k3s1; rm -rf /"], [""]])("rejects K3S_VERSION %j", async (v) => {
    const r = await run(release("amd64"), { K3S_VERSION: v, K8S_BAKE: "airgap", ARCH: "x86_64" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("is not a k3s version like");
    expect(server!.requests).toEqual([]);
  });
});
