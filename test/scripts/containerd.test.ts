import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { ALPINE, DEBIAN, type FamilyUserland, type Files } from "../support/shims.js";
import { needTool } from "../support/tools.js";
import { realContainerd } from "../support/containerd-release.js";
import { type FixtureServer, serveFixtures } from "../support/fixture-server.js";
import { CONTAINERD_20_CONFIG, CONTAINERD_PACKAGED_CONFIG, NODE_PACKAGES, runtimeReleases } from "./fixtures.js";

const PAUSE = "registry.k8s.io/pause:3.10.1";

/** One specification of the k8s-containerd step, with each family's containerd as data. */
interface RuntimeCase {
  fam: FamilyUserland;
  /** A node whose package manager installs the family's containerd and CNI plugins. */
  packages: Files;
  /** Where the family's CNI plugins package puts the plugins, and that package. */
  cni: { package: string; dir: string };
  calls: string[];
  /** The config file the step leaves, from the packaged one. */
  config: (packaged: string) => string;
  /** The verdicts on the effective config, in order. */
  checks: string[];
  /** A setting that does not take (a sed over the dump) and the verdict that says so. */
  notTaking: Array<[string, string]>;
}

const CASES: RuntimeCase[] = [
  {
    fam: ALPINE,
    packages: NODE_PACKAGES.alpine,
    cni: { package: "cni-plugins", dir: "/usr/libexec/cni" },
    calls: [
      "apk add containerd containerd-ctr runc cni-plugins",
      "rc-update add cgroups default",
      "rc-update add containerd default",
      "rc-service containerd status",
      "rc-service containerd start",
      "containerd config dump",
      "ctr version",
    ],
    // Everything the package set is kept; only the three settings differ.
    config: (packaged) =>
      packaged
        .replace("      sandbox = 'registry.k8s.io/pause:3.10'\n", `      sandbox = '${PAUSE}'\n`)
        .replace("            ShimCgroup = ''\n", "            ShimCgroup = ''\n            SystemdCgroup = false\n"),
    checks: ["ok   containerd cgroup driver cgroupfs", "ok   containerd sandbox image", "ok   containerd CNI dir"],
    notTaking: [
      ["s/SystemdCgroup = false/SystemdCgroup = true/", "FAIL containerd cgroup driver cgroupfs: found 'true', expected 'false'"],
      ["s#sandbox = .*#sandbox = 'registry.k8s.io/pause:3.8'#", `FAIL containerd sandbox image: found 'registry.k8s.io/pause:3.8', expected '${PAUSE}'`],
      ["s#/usr/libexec/cni#/opt/cni/bin#", "FAIL containerd CNI dir: bin_dirs=['/opt/cni/bin'] bin_dir=unset, expected /usr/libexec/cni"],
    ],
  },
  {
    fam: DEBIAN,
    packages: NODE_PACKAGES.debian,
    cni: { package: "containernetworking-plugins", dir: "/usr/lib/cni" },
    calls: [
      "apt-get update",
      "apt-get install -y --no-install-recommends curl ca-certificates tar gzip containernetworking-plugins",
      "containerd --version",
      "runc --version",
      "systemctl daemon-reload",
      "containerd --version",
      "systemctl enable containerd",
      "systemctl restart containerd",
      "containerd config dump",
      "containerd --version",
      "runc --version",
      "ctr version",
    ],
    // Written whole (containerd 2.x, version 3): every value explicit.
    config: () =>
      [
        "# Written by homelab k8s-containerd.sh (containerd 2.x, config version 3).",
        "version = 3",
        "",
        "[plugins]",
        "  [plugins.'io.containerd.cri.v1.images']",
        "    [plugins.'io.containerd.cri.v1.images'.pinned_images]",
        `      sandbox = '${PAUSE}'`,
        "",
        "  [plugins.'io.containerd.cri.v1.runtime']",
        "    [plugins.'io.containerd.cri.v1.runtime'.cni]",
        "      bin_dirs = ['/usr/lib/cni']",
        "      conf_dir = '/etc/cni/net.d'",
        "",
        "    [plugins.'io.containerd.cri.v1.runtime'.containerd]",
        "      default_runtime_name = 'runc'",
        "",
        "      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
        "        runtime_type = 'io.containerd.runc.v2'",
        "",
        "        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
        "          SystemdCgroup = true",
        "",
      ].join("\n"),
    checks: [
      "ok   containerd version",
      "ok   runc version",
      "ok   containerd config version",
      "ok   containerd cgroup driver systemd",
      "ok   containerd runc runtime type",
      "ok   containerd sandbox image",
      "ok   containerd CNI dir",
      "ok   containerd CNI config dir",
    ],
    notTaking: [
      ["s/SystemdCgroup = true/SystemdCgroup = false/", "FAIL containerd cgroup driver systemd: found 'false', expected 'true'"],
      ["/runtime_type/d", "FAIL containerd runc runtime type: found '', expected 'io.containerd.runc.v2'"],
      ["s#sandbox = .*#sandbox = 'registry.k8s.io/pause:3.6'#", `FAIL containerd sandbox image: found 'registry.k8s.io/pause:3.6', expected '${PAUSE}'`],
      ["s#/usr/lib/cni#/opt/cni/bin#", "FAIL containerd CNI dir: bin_dirs=['/opt/cni/bin'] bin_dir=unset, expected /usr/lib/cni"],
      ["s#conf_dir = .*#conf_dir = '/etc/cni/other'#", "FAIL containerd CNI config dir: found '/etc/cni/other', expected '/etc/cni/net.d'"],
      // A version-2 file is migrated by containerd 2.x, not taken as written.
      ["s/^version = 3/version = 2/", "FAIL containerd config version: found '2', expected '3'"],
    ],
  },
];

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  await server?.close();
  server = undefined;
});
const CONTAINERD = "2.3.4";
const RUNC = "1.4.3";
/** The pinned digests of the releases the server holds (runtimeReleases of the pinned versions). */
let pinned = { containerd: "", runc: "" };
/** A fresh node of the family; for Debian, a local server with containerd's and runc's releases. */
const node = async (c: RuntimeCase, extra: Files = {}, routes?: Record<string, string | Buffer>) => {
  if (c.fam.family === "debian") {
    const release = runtimeReleases(c.fam, CONTAINERD, RUNC, "amd64");
    pinned = release.sha256;
    server = await serveFixtures(routes ?? release.routes);
  }
  return familySandbox(c.fam, { ...c.packages, ...extra });
};
/** The step's environment as the bundle gives it (Debian: the runtime pins and where to download them). */
const envFor = (c: RuntimeCase, over: Record<string, string> = {}): Record<string, string> => ({
  PAUSE_IMAGE: PAUSE,
  ...(c.fam.family === "debian"
    ? {
        ARCH: "x86_64",
        CONTAINERD_VERSION: CONTAINERD,
        CONTAINERD_SHA256: pinned.containerd,
        CONTAINERD_DOWNLOAD_URL: `${server!.url}/containerd`,
        RUNC_VERSION: RUNC,
        RUNC_SHA256: pinned.runc,
        RUNC_DOWNLOAD_URL: `${server!.url}/runc`,
      }
    : {}),
  ...over,
});
const packagedConfig = (c: RuntimeCase) => String(c.packages["/.shim/pkgs/containerd/etc/containerd/config.toml"]);

describe.each(CASES)("k8s-containerd on $fam.family", (c) => {
  const runtime = shippedScript(c.fam.family, "k8s-containerd");

  it.skipIf(!canRun(c.fam))("installs, configures, enables and starts containerd, then checks the effective config", async () => {
    sb = await node(c);
    const r = await sb.run(runtime, envFor(c));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual(c.calls);
    expect(sb.read("/etc/containerd/config.toml")).toBe(c.config(packagedConfig(c)));
    expect(sb.mode("/etc/containerd/config.toml")).toBe(0o644);
    expect(r.stdout.split("\n").filter((l) => /^(ok|FAIL)/.test(l))).toEqual(c.checks);
    expect(sb.read("/.shim/enabled").split("\n")).toContain(c.fam.unit("containerd"));
    expect(sb.read("/.shim/active")).toBe(`${c.fam.unit("containerd")}\n`);
    expect(r.stdout).toMatch(/containerd configured \((cgroupfs|systemd) cgroups, sandbox registry\.k8s\.io\/pause:3\.10\.1, CNI \/usr\/(libexec|lib)\/cni\) and running\n$/);
  });

  it.skipIf(!canRun(c.fam)).each(c.notTaking)("fails loudly when the effective config differs (%s)", async (sed, verdict) => {
    sb = await node(c, { "/.shim/dump.sed": `${sed}\n` });
    const r = await sb.run(runtime, envFor(c));
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")).toContain(verdict);
    expect(r.stderr).toContain("k8s-containerd: ERROR: the effective containerd config is wrong");
    expect(sb.callsOf("ctr")).toEqual([]);
  });

  it.skipIf(!canRun(c.fam))("fails when the CNI plugins are not where the family's package puts them", async () => {
    sb = await node(c);
    await sb.exec([`${c.fam.bin}/rm`, "-r", `/.shim/pkgs/${c.cni.package}`]);
    const r = await sb.run(runtime, envFor(c));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${c.cni.dir} does not exist after installing ${c.cni.package}`);
    expect(sb.calls().filter((l) => /^(rc-update|rc-service|systemctl) /.test(l))).toEqual([]);
  });

  it.skipIf(!canRun(c.fam)).each([[""], ["registry.k8s.io/pause:3.10'\n[x]"], ['registry.k8s.io/pause:3.10"\n[x]'], ["pause 3.10"]])(
    "rejects PAUSE_IMAGE %j before installing anything",
    async (pause) => {
      sb = await node(c);
      const r = await sb.run(runtime, envFor(c, { PAUSE_IMAGE: pause }));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/PAUSE_IMAGE/);
      expect(sb.calls()).toEqual([]);
    },
  );
});

describe.skipIf(!canRun(ALPINE))("k8s-containerd, Alpine's part: edits of the packaged v3 config", () => {
  const alpine = CASES[0]!;
  const runtime = shippedScript("alpine", "k8s-containerd");
  const withConfig = (config: string | undefined) => {
    const packages = { ...alpine.packages };
    if (config === undefined) delete packages["/.shim/pkgs/containerd/etc/containerd/config.toml"];
    else packages["/.shim/pkgs/containerd/etc/containerd/config.toml"] = config;
    return familySandbox(ALPINE, packages);
  };

  it("sets bin_dir on containerd 2.0, which has no bin_dirs", async () => {
    sb = await withConfig(CONTAINERD_20_CONFIG);
    expect((await sb.run(runtime, envFor(alpine))).code).toBe(0);
    const cfg = sb.read("/etc/containerd/config.toml");
    expect(cfg).toContain("      bin_dir = '/usr/libexec/cni'\n");
    expect(cfg).not.toContain("bin_dirs");
  });

  it("starts from `containerd config default` when the package ships no config, and moves CNI to /usr/libexec/cni", async () => {
    sb = await withConfig(undefined);
    expect((await sb.run(runtime, envFor(alpine))).code).toBe(0);
    expect(sb.callsOf("containerd")).toEqual(["containerd config default", "containerd config dump"]);
    const cfg = sb.read("/etc/containerd/config.toml");
    expect(cfg).toContain("      bin_dirs = ['/usr/libexec/cni']\n");
    expect(cfg).not.toContain("/opt/cni/bin");
    expect(cfg).toContain(`sandbox = '${PAUSE}'`);
  });

  it("adds the runc options table when the config has none (and the result still loads)", async () => {
    sb = await withConfig(CONTAINERD_PACKAGED_CONFIG.replace(/ {10}\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\.options\]\n( {12}.*\n)+/, ""));
    const r = await sb.run(runtime, envFor(alpine));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.read("/etc/containerd/config.toml")).toMatch(/\n\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\.options\]\nSystemdCgroup = false\n$/);
  });

  it("refuses a config that is not version 3 (containerd 1.x), enabling nothing", async () => {
    sb = await withConfig(CONTAINERD_PACKAGED_CONFIG.replace("version = 3", "version = 2"));
    const r = await sb.run(runtime, envFor(alpine));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("config version '2'; expected version = 3");
    expect(sb.callsOf("rc-update")).toEqual([]);
  });
});

describe.skipIf(!canRun(DEBIAN))("k8s-containerd, Debian's part: upstream containerd and runc releases", () => {
  const debian = CASES[1]!;
  const runtime = shippedScript("debian", "k8s-containerd");

  it("installs the verified release: bin/ to /usr/local/bin, runc to /usr/local/sbin, homelab's own unit", async () => {
    sb = await node(debian);
    const r = await sb.run(runtime, envFor(debian));
    expect(r.code, r.stderr).toBe(0);
    expect(server!.requests).toEqual([`/containerd/v${CONTAINERD}/containerd-${CONTAINERD}-linux-amd64.tar.gz`, `/runc/v${RUNC}/runc.amd64`]);
    for (const bin of ["containerd", "containerd-shim-runc-v2", "ctr"]) {
      expect(sb.read(`/usr/local/bin/${bin}`)).toBe(`#!/deb/sh\necho ${bin} stand-in\n`);
      expect(sb.mode(`/usr/local/bin/${bin}`)).toBe(0o755);
    }
    // Only what a node needs: containerd-stress stays out.
    expect(sb.exists("/usr/local/bin/containerd-stress")).toBe(false);
    expect(sb.read("/usr/local/sbin/runc")).toBe("#!/deb/sh\necho runc stand-in\n");
    expect(sb.mode("/usr/local/sbin/runc")).toBe(0o755);
    const unit = sb.read("/etc/systemd/system/containerd.service").split("\n");
    for (const line of ["ExecStart=/usr/local/bin/containerd", "Type=notify", "Delegate=yes", "KillMode=process", "Restart=always", "OOMScoreAdjust=-999", "WantedBy=multi-user.target"]) {
      expect(unit).toContain(line);
    }
    expect(r.stdout).toMatch(/verified containerd-2\.3\.4-linux-amd64\.tar\.gz sha256 [0-9a-f]{64}\n/);
    expect(r.stdout).toMatch(/verified runc sha256 [0-9a-f]{64}\n/);
    expect(readdirSync(sb.path("/var/tmp"))).toEqual([]);
  });

  it.each([
    ["containerd", `/containerd/v${CONTAINERD}/containerd-${CONTAINERD}-linux-amd64.tar.gz`, "checksum mismatch for containerd-2.3.4-linux-amd64.tar.gz of containerd 2.3.4"],
    ["runc", `/runc/v${RUNC}/runc.amd64`, "checksum mismatch for runc.amd64 of runc 1.4.3"],
  ])("refuses a %s download whose sha256 is not the pin, installing nothing", async (_what, path, message) => {
    const real = runtimeReleases(DEBIAN, CONTAINERD, RUNC, "amd64");
    sb = await node(debian, {}, { ...real.routes, [path]: Buffer.from("tampered") });
    const r = await sb.run(runtime, envFor(debian));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(sb.exists("/usr/local/bin/containerd")).toBe(false);
    expect(sb.exists("/usr/local/sbin/runc")).toBe(false);
    expect(sb.exists("/etc/systemd/system/containerd.service")).toBe(false);
    expect(sb.callsOf("systemctl")).toEqual([]);
  });

  it.each([
    ["containerd", { "/.shim/containerd-version": "containerd github.com/containerd/containerd/v2 v2.3.3 abc\n" }, "containerd --version says 'containerd github.com/containerd/containerd/v2 v2.3.3 abc', expected 2.3.4"],
    ["runc", { "/.shim/runc-version": "runc version 1.3.6\n" }, "runc --version says 'runc version 1.3.6', expected 1.4.3"],
  ])("refuses when the installed %s reports another version, before any unit or config is written", async (_what, files, message) => {
    sb = await node(debian, files);
    const r = await sb.run(runtime, envFor(debian));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(sb.exists("/etc/systemd/system/containerd.service")).toBe(false);
    expect(sb.exists("/etc/containerd/config.toml")).toBe(false);
  });

  it.each([
    [{ CONTAINERD_VERSION: "v2.3.4" }, "CONTAINERD_VERSION 'v2.3.4' is not a release like 2.3.4"],
    [{ CONTAINERD_VERSION: "1.7.28" }, "needs containerd 2.x"],
    [{ RUNC_SHA256: "abc" }, "RUNC_SHA256 'abc' is not a sha256"],
    [{ CONTAINERD_DOWNLOAD_URL: "file:///etc" }, "CONTAINERD_DOWNLOAD_URL 'file:///etc' is not an http(s) URL"],
    [{ ARCH: "arm" }, "ARCH 'arm' must be x86_64 or aarch64"],
  ])("rejects %j before installing anything", async (over, message) => {
    sb = await node(debian);
    const r = await sb.run(runtime, envFor(debian, over));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(sb.calls()).toEqual([]);
    expect(server!.requests).toEqual([]);
  });

  it("writes bin_dir, not bin_dirs, for containerd 2.0 (which has no bin_dirs)", async () => {
    sb = await node(debian, { "/.shim/containerd-version": "containerd github.com/containerd/containerd/v2 v2.0.6 abc\n" });
    const r20 = runtimeReleases(DEBIAN, "2.0.6", RUNC, "amd64");
    await server!.close();
    server = await serveFixtures(r20.routes);
    const r = await sb.run(runtime, envFor(debian, { CONTAINERD_VERSION: "2.0.6", CONTAINERD_SHA256: r20.sha256.containerd }));
    expect(r.code, r.stderr).toBe(0);
    const cfg = sb.read("/etc/containerd/config.toml");
    expect(cfg).toContain("      bin_dir = '/usr/lib/cni'\n");
    expect(cfg).not.toContain("bin_dirs");
  });

  it("leaves a containerd.service homelab did not write alone, and refuses", async () => {
    const mine = "[Service]\nExecStart=/opt/my/containerd\n";
    sb = await node(debian, { "/etc/systemd/system/containerd.service": mine });
    const r = await sb.run(runtime, envFor(debian));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/etc/systemd/system/containerd.service exists and was not written by homelab");
    expect(sb.read("/etc/systemd/system/containerd.service")).toBe(mine);
    expect(server!.requests).toEqual([]);
  });

  it("runs again over its own install (idempotent)", async () => {
    sb = await node(debian);
    expect((await sb.run(runtime, envFor(debian))).code).toBe(0);
    const again = await sb.run(runtime, envFor(debian));
    expect(again.code, again.stderr).toBe(0);
  });
});

// The config the Debian step writes, read by a REAL containerd 2.x (Debian sid's 2.1.9 build, see
// test/support/containerd-release.ts): it must load, and its effective values (merged with
// containerd's defaults, as `containerd config dump` prints them) must pass the step's own checks.
describe.skipIf(!(canRun(DEBIAN) && needTool("xz") && needTool("dpkg-deb")))("k8s-containerd's Debian config under a real containerd 2.x", () => {
  it("loads in containerd 2.1.9 and every check passes on its dump; a wrong setting in the file fails them", async () => {
    const real = await realContainerd();
    const debian = CASES[1]!;
    sb = await node(debian);
    const runtime = shippedScript("debian", "k8s-containerd");
    expect((await sb.run(runtime, envFor(debian))).code).toBe(0);
    expect(execFileSync(real.containerd, ["--version"], { encoding: "utf8" })).toMatch(/ 2\.1\.9/);
    const dumpOf = (config: string) => execFileSync(real.containerd, ["-c", config, "config", "dump"], { encoding: "utf8" });
    const written = sb.read("/etc/containerd/config.toml");
    // The shim answers `config dump` with containerd's real output from now on.
    sb.write("/.shim/dump.toml", dumpOf(sb.path("/etc/containerd/config.toml")));
    const r = await sb.run(runtime, envFor(debian));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n").filter((l) => /^(ok|FAIL)/.test(l))).toEqual(debian.checks);

    sb.write("/tmp/wrong.toml", written.replace("SystemdCgroup = true", "SystemdCgroup = false").replace("bin_dirs = ['/usr/lib/cni']", "bin_dirs = ['/opt/cni/bin']"));
    sb.write("/.shim/dump.toml", dumpOf(sb.path("/tmp/wrong.toml")));
    const wrong = await sb.run(runtime, envFor(debian));
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain("FAIL containerd cgroup driver systemd: found 'false', expected 'true'");
    expect(wrong.stdout).toContain("FAIL containerd CNI dir: bin_dirs=['/opt/cni/bin'] bin_dir=unset, expected /usr/lib/cni");
  });
});
