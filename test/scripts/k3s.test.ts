import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { type FixtureServer, serveFixtures, sha256Hex } from "../support/fixture-server.js";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { ALPINE, DEBIAN, fakeK3s, type FamilyUserland, type Files } from "../support/shims.js";

const VERSION = "v1.31.4+k3s1";
const TAG = "/v1.31.4%2Bk3s1";
const IMAGES = Buffer.from("(zstd tarball of the k3s air-gap images)\n".repeat(64));
const TARBALL = "/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst";
/** /sys/fs/cgroup/cgroup.controllers of a Debian 12 guest (cgroup v2, unified). */
const CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc\n";

/** One specification of the k8s-k3s step; the family's host preparation and service as data. */
interface K3sCase {
  fam: FamilyUserland;
  node: Files;
  /** What preparing the host calls (every bake, none included). */
  prepare: string[];
  /** What installing calls after the host is prepared (the downloader, the service). */
  install: string[];
  /** The service it wrote runs the installed binary with K3S_EXEC from its settings file. */
  service(s: Sandbox): void;
  /** The service's settings file, where provisioning sets K3S_EXEC (the role). */
  settings: string;
  /** Starts the service the way the init system does at boot (or at provisioning). */
  start: string[];
  /**
   * Whether the service's own guard accepts the role in its settings file (OpenRC: start_pre;
   * systemd: the ExecStartPre check, run from the unit's text with the settings as environment).
   */
  roleAccepted(s: Sandbox, exec: string): Promise<boolean>;
}

const CASES: K3sCase[] = [
  {
    fam: ALPINE,
    node: {},
    // OpenRC's cgroups service mounts the cgroup filesystem k3s needs.
    prepare: ["rc-update add cgroups default"],
    install: ["rc-update add k3s default"],
    service: (s) => {
      const initd = s.read("/etc/init.d/k3s");
      expect(initd).toMatch(/^#!\/sbin\/openrc-run\n/);
      expect(initd).toContain("command=/usr/local/bin/k3s\n");
      expect(initd).toMatch(/need cgroups/);
      expect(s.mode("/etc/init.d/k3s")).toBe(0o755);
      // No role until provisioning sets one.
      expect(s.read("/etc/conf.d/k3s")).toContain('K3S_EXEC=""');
    },
    settings: "/etc/conf.d/k3s",
    start: ["rc-service", "k3s", "start"],
    // rc-service (the shim plays openrc-run) runs start_pre with the conf.d settings.
    roleAccepted: async (s, exec) => {
      s.write("/etc/conf.d/k3s", `K3S_EXEC="${exec}"\nK3S_OPTS=""\n`);
      return (await s.exec(["rc-service", "k3s", "start"])).code === 0;
    },
  },
  {
    fam: DEBIAN,
    node: { "/sys/fs/cgroup/cgroup.controllers": CONTROLLERS },
    // systemd delegates the cgroup v2 controllers (checked, nothing to enable); a minimal Debian has no curl.
    prepare: [],
    install: ["apt-get update", "apt-get install -y --no-install-recommends curl ca-certificates", "systemctl daemon-reload", "systemctl enable k3s"],
    service: (s) => {
      const unit = s.read("/etc/systemd/system/k3s.service");
      expect(unit).toContain("ExecStart=/usr/local/bin/k3s $K3S_EXEC $K3S_OPTS\n");
      expect(unit).toContain("Delegate=yes\n");
      expect(unit).toContain("Type=notify\n");
      expect(s.read("/etc/default/k3s")).toContain("K3S_EXEC=\n");
    },
    settings: "/etc/default/k3s",
    start: ["systemctl", "start", "k3s"],
    roleAccepted: async (s, exec) => {
      // systemd runs ExecStartPre with EnvironmentFile's variables, "$$" standing for "$".
      const pre = s.read("/etc/systemd/system/k3s.service").match(/^ExecStartPre=\/bin\/sh -c '(.*)'$/m);
      expect(pre, "the unit's role check").not.toBeNull();
      return (await s.exec(["/deb/sh", "-c", pre![1]!.replaceAll("$$", "$")], { K3S_EXEC: exec })).code === 0;
    },
  },
];

/** The release as GitHub serves it: sha256sum-<arch>.txt in `sha256sum` format, then the assets. */
function release(fam: FamilyUserland, arch: "amd64" | "arm64", sums?: string): Record<string, string | Buffer> {
  const bin = fakeK3s(fam, VERSION);
  const asset = arch === "amd64" ? "k3s" : "k3s-arm64";
  const tarball = `k3s-airgap-images-${arch}.tar.zst`;
  return {
    [`${TAG}/sha256sum-${arch}.txt`]: sums ?? `${sha256Hex(IMAGES)}  ${tarball}\n${sha256Hex("other")}  k3s-airgap-images-${arch}.tar\n${sha256Hex(bin)}  ${asset}\n`,
    [`${TAG}/${asset}`]: bin,
    [`${TAG}/${tarball}`]: IMAGES,
  };
}

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  await server?.close();
  server = undefined;
});

async function run(c: K3sCase, routes: Record<string, string | Buffer>, env: Record<string, string>, files: Files = {}) {
  server = await serveFixtures(routes);
  sb = await familySandbox(c.fam, { ...c.node, ...files });
  const r = await sb.run(shippedScript(c.fam.family, "k8s-k3s"), { K3S_DOWNLOAD_URL: `${server.url}/`, ...env });
  return { r, s: sb };
}

const AIRGAP = { K3S_VERSION: VERSION, K8S_BAKE: "airgap", ARCH: "x86_64" };

describe.each(CASES)("k8s-k3s on $fam.family", (c) => {
  const bin = fakeK3s(c.fam, VERSION);

  it.skipIf(!canRun(c.fam))("airgap x86_64: the pinned release (+ encoded) verified and installed, the service enabled not started, no system containerd", async () => {
    const { r, s } = await run(c, release(c.fam, "amd64"), AIRGAP);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual([`${TAG}/sha256sum-amd64.txt`, `${TAG}/k3s`, `${TAG}/k3s-airgap-images-amd64.tar.zst`]);
    expect(s.calls()).toEqual([...c.prepare, ...c.install]);
    expect(s.read("/usr/local/bin/k3s")).toBe(bin);
    expect(s.mode("/usr/local/bin/k3s")).toBe(0o755);
    expect(s.read(TARBALL)).toBe(IMAGES.toString());
    expect(s.read("/etc/homelab/k3s.sha256")).toBe(`${sha256Hex(bin)}  /usr/local/bin/k3s\n${sha256Hex(IMAGES)}  ${TARBALL}\n`);
    expect(s.read("/etc/k3s-version")).toBe(`${VERSION}\n`);
    const links = await s.exec([`${c.fam.bin}/sh`, "-c", "for c in kubectl crictl ctr; do readlink /usr/local/bin/$c; done"]);
    expect(links.stdout).toBe("k3s\nk3s\nk3s\n");
    c.service(s);
    expect(s.read("/.shim/enabled").split("\n")).toContain(c.fam.unit("k3s"));
    expect(s.exists("/.shim/active")).toBe(false);
    expect(s.exists("/.shim/installed") ? s.read("/.shim/installed") : "").not.toMatch(/containerd/);
    // The service's binary really runs.
    expect((await s.exec(["/usr/local/bin/k3s", "--version"])).stdout).toContain(`k3s version ${VERSION} `);
  });

  it.skipIf(!canRun(c.fam))("the service waits for its role: no start without /etc/rancher/k3s/config.yaml, and K3S_EXEC must be server or agent", async () => {
    const { r, s } = await run(c, release(c.fam, "amd64"), { K3S_VERSION: VERSION, K8S_BAKE: "binary", ARCH: "x86_64" });
    expect(r.code).toBe(0);
    // A clone's first boot: the service does not start (OpenRC: start_pre fails; systemd: the condition skips it).
    await s.exec(c.start);
    expect(s.exists("/.shim/active") ? s.read("/.shim/active") : "").not.toContain(c.fam.unit("k3s"));
    expect(s.exists("/etc/rancher/k3s/config.yaml")).toBe(false);
    // Provisioning tells it its role.
    s.write("/etc/rancher/k3s/config.yaml", "server: https://10.0.0.10:6443\ntoken: t\nnode-name: worker-1\n");
    expect(await c.roleAccepted(s, "")).toBe(false);
    expect(await c.roleAccepted(s, "controller")).toBe(false);
    expect(await c.roleAccepted(s, "agent")).toBe(true);
    s.write(c.settings, c.fam.family === "alpine" ? 'K3S_EXEC="agent"\n' : "K3S_EXEC=agent\n");
    expect((await s.exec(c.start)).code).toBe(0);
    expect(s.read("/.shim/active")).toContain(c.fam.unit("k3s"));
  });

  it.skipIf(!canRun(c.fam))("binary aarch64: k3s-arm64 against sha256sum-arm64.txt and no images", async () => {
    const { r, s } = await run(c, release(c.fam, "arm64"), { K3S_VERSION: VERSION, K8S_BAKE: "binary", ARCH: "aarch64" });
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual([`${TAG}/sha256sum-arm64.txt`, `${TAG}/k3s-arm64`]);
    expect(s.read("/usr/local/bin/k3s")).toBe(bin);
    expect(s.exists("/var/lib/rancher/k3s/agent/images")).toBe(false);
    expect(s.read("/etc/homelab/k3s.sha256")).toBe(`${sha256Hex(bin)}  /usr/local/bin/k3s\n`);
  });

  it.skipIf(!canRun(c.fam))("a wrong binary checksum installs nothing, writes no service and enables nothing", async () => {
    const { r, s } = await run(c, release(c.fam, "amd64", `${sha256Hex(IMAGES)}  k3s-airgap-images-amd64.tar.zst\n${sha256Hex("tampered")}  k3s\n`), AIRGAP);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`checksum mismatch for k3s of ${VERSION}: got ${sha256Hex(bin)}, expected ${sha256Hex("tampered")}`);
    expect(s.exists("/usr/local/bin/k3s")).toBe(false);
    expect(s.exists("/etc/init.d/k3s") || s.exists("/etc/systemd/system/k3s.service")).toBe(false);
    expect(s.calls().filter((l) => /^(rc-update|systemctl) /.test(l))).toEqual(c.prepare);
    // The staging directory with the unverified download is gone too.
    expect(readdirSync(s.path("/var/tmp"))).toEqual([]);
  });

  it.skipIf(!canRun(c.fam))("a missing entry for the images tarball stops before anything is installed", async () => {
    const { r, s } = await run(c, release(c.fam, "amd64", `${sha256Hex(bin)}  k3s\n`), AIRGAP);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no entry for k3s-airgap-images-amd64.tar.zst in sha256sum-amd64.txt");
    expect(s.exists("/usr/local/bin/k3s")).toBe(false);
    expect(s.exists(TARBALL)).toBe(false);
  });

  it.skipIf(!canRun(c.fam))("a release that is not there (404) stops the build", async () => {
    const { r } = await run(c, {}, { ...AIRGAP, K8S_BAKE: "binary" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`download failed: ${server!.url}${TAG}/sha256sum-amd64.txt`);
  });

  it.skipIf(!canRun(c.fam))("bake none only prepares the host and downloads nothing", async () => {
    const { r, s } = await run(c, release(c.fam, "amd64"), { K8S_BAKE: "none", ARCH: "x86_64" });
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual([]);
    expect(s.calls()).toEqual(c.prepare);
    expect(s.exists("/usr/local/bin/k3s")).toBe(false);
  });

  it.skipIf(!canRun(c.fam)).each([["v1.31.4"], ["v1.31.4+k3s1; rm -rf /"], [""]])("rejects K3S_VERSION %j before downloading", async (v) => {
    const { r } = await run(c, release(c.fam, "amd64"), { ...AIRGAP, K3S_VERSION: v });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not a k3s version like");
    expect(server!.requests).toEqual([]);
  });
});

describe.skipIf(!canRun(DEBIAN))("k8s-k3s, Debian's part: the cgroup v2 controllers", () => {
  it("fails when the memory controller is missing (k3s would refuse to start)", async () => {
    const { r } = await run(CASES[1]!, release(DEBIAN, "amd64"), { K8S_BAKE: "none", ARCH: "x86_64" }, { "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io pids\n" });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL cgroup v2 controller memory: not in /sys/fs/cgroup/cgroup.controllers");
    expect(r.stderr).toContain("cgroup v2 lacks controllers k3s needs");
  });
});
