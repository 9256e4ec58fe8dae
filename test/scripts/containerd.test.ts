import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { ALPINE, DEBIAN, type FamilyUserland, type Files } from "../support/shims.js";
import { needTool } from "../support/tools.js";
import { CONTAINERD_20_CONFIG, CONTAINERD_PACKAGED_CONFIG, DEBIAN_CONTAINERD_PACKAGED_CONFIG, NODE_PACKAGES } from "./fixtures.js";

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
      "apt-get install -y --no-install-recommends containerd runc containernetworking-plugins",
      "containerd --version",
      "systemctl enable containerd",
      "systemctl restart containerd",
      "containerd config dump",
      "ctr version",
    ],
    // Written whole (containerd 1.x, version 2): every value explicit.
    config: () =>
      [
        "# Written by homelab k8s-containerd.sh (containerd 1.x, config version 2).",
        "version = 2",
        "",
        "[plugins]",
        '  [plugins."io.containerd.grpc.v1.cri"]',
        `    sandbox_image = "${PAUSE}"`,
        "",
        '    [plugins."io.containerd.grpc.v1.cri".cni]',
        '      bin_dir = "/usr/lib/cni"',
        '      conf_dir = "/etc/cni/net.d"',
        "",
        '    [plugins."io.containerd.grpc.v1.cri".containerd]',
        '      default_runtime_name = "runc"',
        "",
        '      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '        runtime_type = "io.containerd.runc.v2"',
        "",
        '        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        "          SystemdCgroup = true",
        "",
        '  [plugins."io.containerd.internal.v1.opt"]',
        '    path = "/var/lib/containerd/opt"',
        "",
      ].join("\n"),
    checks: [
      "ok   containerd cgroup driver systemd",
      "ok   containerd runc runtime type",
      "ok   containerd sandbox image",
      "ok   containerd CNI dir",
      "ok   containerd CNI config dir",
    ],
    notTaking: [
      ["s/SystemdCgroup = true/SystemdCgroup = false/", "FAIL containerd cgroup driver systemd: found 'false', expected 'true'"],
      ["/runtime_type/d", "FAIL containerd runc runtime type: found '', expected 'io.containerd.runc.v2'"],
      ['s#sandbox_image = .*#sandbox_image = "registry.k8s.io/pause:3.6"#', `FAIL containerd sandbox image: found 'registry.k8s.io/pause:3.6', expected '${PAUSE}'`],
      ["s#/usr/lib/cni#/opt/cni/bin#", "FAIL containerd CNI dir: found '/opt/cni/bin', expected '/usr/lib/cni'"],
    ],
  },
];

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());
const node = (c: RuntimeCase, extra: Files = {}) => familySandbox(c.fam, { ...c.packages, ...extra });
const packagedConfig = (c: RuntimeCase) => String(c.packages["/.shim/pkgs/containerd/etc/containerd/config.toml"]);

describe.each(CASES)("k8s-containerd on $fam.family", (c) => {
  const runtime = shippedScript(c.fam.family, "k8s-containerd");

  it.skipIf(!canRun(c.fam))("installs, configures, enables and starts containerd, then checks the effective config", async () => {
    sb = await node(c);
    const r = await sb.run(runtime, { PAUSE_IMAGE: PAUSE });
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
    const r = await sb.run(runtime, { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")).toContain(verdict);
    expect(r.stderr).toContain("k8s-containerd: ERROR: the effective containerd config is wrong");
    expect(sb.callsOf("ctr")).toEqual([]);
  });

  it.skipIf(!canRun(c.fam))("fails when the CNI plugins are not where the family's package puts them", async () => {
    sb = await node(c);
    await sb.exec([`${c.fam.bin}/rm`, "-r", `/.shim/pkgs/${c.cni.package}`]);
    const r = await sb.run(runtime, { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${c.cni.dir} does not exist after installing ${c.cni.package}`);
    expect(sb.calls().filter((l) => /^(rc-update|rc-service|systemctl) /.test(l))).toEqual([]);
  });

  it.skipIf(!canRun(c.fam)).each([[""], ["registry.k8s.io/pause:3.10'\n[x]"], ['registry.k8s.io/pause:3.10"\n[x]'], ["pause 3.10"]])(
    "rejects PAUSE_IMAGE %j before installing anything",
    async (pause) => {
      sb = await node(c);
      const r = await sb.run(runtime, { PAUSE_IMAGE: pause });
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
    expect((await sb.run(runtime, { PAUSE_IMAGE: PAUSE })).code).toBe(0);
    const cfg = sb.read("/etc/containerd/config.toml");
    expect(cfg).toContain("      bin_dir = '/usr/libexec/cni'\n");
    expect(cfg).not.toContain("bin_dirs");
  });

  it("starts from `containerd config default` when the package ships no config, and moves CNI to /usr/libexec/cni", async () => {
    sb = await withConfig(undefined);
    expect((await sb.run(runtime, { PAUSE_IMAGE: PAUSE })).code).toBe(0);
    expect(sb.callsOf("containerd")).toEqual(["containerd config default", "containerd config dump"]);
    const cfg = sb.read("/etc/containerd/config.toml");
    expect(cfg).toContain("      bin_dirs = ['/usr/libexec/cni']\n");
    expect(cfg).not.toContain("/opt/cni/bin");
    expect(cfg).toContain(`sandbox = '${PAUSE}'`);
  });

  it("adds the runc options table when the config has none (and the result still loads)", async () => {
    sb = await withConfig(CONTAINERD_PACKAGED_CONFIG.replace(/ {10}\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\.options\]\n( {12}.*\n)+/, ""));
    const r = await sb.run(runtime, { PAUSE_IMAGE: PAUSE });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.read("/etc/containerd/config.toml")).toMatch(/\n\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\.options\]\nSystemdCgroup = false\n$/);
  });

  it("refuses a config that is not version 3 (containerd 1.x), enabling nothing", async () => {
    sb = await withConfig(CONTAINERD_PACKAGED_CONFIG.replace("version = 3", "version = 2"));
    const r = await sb.run(runtime, { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("config version '2'; expected version = 3");
    expect(sb.callsOf("rc-update")).toEqual([]);
  });
});

describe.skipIf(!canRun(DEBIAN))("k8s-containerd, Debian's part", () => {
  it("refuses containerd 2.x, which needs a version-3 config, before writing anything", async () => {
    sb = await node(CASES[1]!, { "/.shim/containerd-version": "containerd github.com/containerd/containerd/v2 v2.1.4 abc\n" });
    const r = await sb.run(shippedScript("debian", "k8s-containerd"), { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("containerd is 'v2.1.4'");
    expect(sb.read("/etc/containerd/config.toml")).toBe(DEBIAN_CONTAINERD_PACKAGED_CONFIG);
    expect(sb.callsOf("systemctl")).toEqual([]);
  });
});

// The config the Debian step writes, read by the real containerd 1.6 of Debian 12: it must load,
// and the effective values (merged with containerd's defaults) must be the ones the step checks.
describe.skipIf(!(canRun(DEBIAN) && needTool("containerd")))("k8s-containerd's Debian config under the real containerd", () => {
  it("loads in containerd 1.x and takes effect, runc runtime type included", async () => {
    sb = await node(CASES[1]!);
    expect((await sb.run(shippedScript("debian", "k8s-containerd"), { PAUSE_IMAGE: PAUSE })).code).toBe(0);
    expect(execFileSync("containerd", ["--version"], { encoding: "utf8" })).toMatch(/ v?1\.\d+\./);
    const dump = execFileSync("containerd", ["-c", sb.path("/etc/containerd/config.toml"), "config", "dump"], { encoding: "utf8" });
    const table = (name: string) => dump.split(/\n\s*\n/).find((block) => block.trim().startsWith(`[${name}]`)) ?? "";
    expect(table('plugins."io.containerd.grpc.v1.cri"')).toContain(`sandbox_image = "${PAUSE}"`);
    expect(table('plugins."io.containerd.grpc.v1.cri".cni')).toContain('bin_dir = "/usr/lib/cni"');
    expect(table('plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc')).toContain('runtime_type = "io.containerd.runc.v2"');
    expect(table('plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options')).toContain("SystemdCgroup = true");
  });
});
