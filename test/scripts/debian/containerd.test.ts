import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { DEBIAN_BASE_FILES, DEBIAN_SHIMS } from "../../support/debian-shims.js";
import { Sandbox } from "../../support/sandbox.js";
import { needTool } from "../../support/tools.js";

const PAUSE = "registry.k8s.io/pause:3.10.1";
let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

/** /etc/containerd/config.toml as Debian 12's containerd 1.6.20~ds1-1+deb12u3 ships it. */
const DEBIAN_PACKAGED_CONFIG = `version = 2

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
`;

/** A Debian node whose `apt-get install containerd ...` installs the packaged files. */
function containerdNode(files: Record<string, string> = {}): Promise<Sandbox> {
  return Sandbox.create({
    userland: "debian",
    shims: DEBIAN_SHIMS,
    files: {
      ...DEBIAN_BASE_FILES,
      "/.shim/deb-pkgs/containerd/etc/containerd/config.toml": DEBIAN_PACKAGED_CONFIG,
      "/.shim/deb-pkgs/containerd/usr/lib/systemd/system/containerd.service": "[Service]\nExecStart=/usr/bin/containerd\n",
      "/.shim/deb-pkgs/containernetworking-plugins/usr/lib/cni/bridge": { content: "", mode: 0o755 },
      ...files,
    },
  });
}

describe.skipIf(!(needTool("bwrap") && needTool("dash")))("debian/k8s-containerd.sh", () => {
  it("installs from the mirror, writes the explicit v2 config, enables and restarts containerd, checks the dump", async () => {
    sb = await containerdNode();
    const r = await sb.run("debian/k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual([
      "apt-get update",
      "apt-get install -y --no-install-recommends containerd runc containernetworking-plugins",
      "containerd --version",
      "systemctl enable containerd",
      "systemctl restart containerd",
      "containerd config dump",
      "ctr version",
    ]);
    const cfg = sb.read("/etc/containerd/config.toml");
    expect(sb.mode("/etc/containerd/config.toml")).toBe(0o644);
    expect(cfg).toMatch(/^version = 2$/m);
    expect(cfg).toContain(`    sandbox_image = "${PAUSE}"\n`);
    expect(cfg).toContain('      bin_dir = "/usr/lib/cni"\n      conf_dir = "/etc/cni/net.d"\n');
    expect(cfg).toContain('        runtime_type = "io.containerd.runc.v2"\n');
    expect(cfg).toContain("          SystemdCgroup = true\n");
    expect(sb.read("/.shim/enabled")).toBe("containerd.service\n");
    expect(sb.read("/.shim/active")).toBe("containerd.service\n");
    expect(r.stdout).toContain("containerd 1.6.20~ds1 configured (systemd cgroups");
  });

  it.each([
    ["s/SystemdCgroup = true/SystemdCgroup = false/", 'cgroup driver (systemd, matching the kubelet) did not take: SystemdCgroup is "false" in the effective config, expected "true"'],
    ["/runtime_type/d", 'runc runtime type did not take: runtime_type is "unset" in the effective config, expected "io.containerd.runc.v2"'],
    ["s#sandbox_image = .*#sandbox_image = \"registry.k8s.io/pause:3.6\"#", `sandbox image did not take: sandbox_image is "registry.k8s.io/pause:3.6" in the effective config, expected "${PAUSE}"`],
    ["s#/usr/lib/cni#/opt/cni/bin#", 'CNI directory did not take: bin_dir is "/opt/cni/bin" in the effective config, expected "/usr/lib/cni"'],
  ])("fails loudly when the effective config differs (%s)", async (sed, message) => {
    sb = await containerdNode({ "/.shim/dump.sed": `${sed}\n` });
    const r = await sb.run("debian/k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`k8s-containerd: ERROR: ${message}`);
    expect(r.stderr).toContain("the effective containerd config is wrong");
    expect(sb.callsOf("ctr")).toEqual([]);
  });

  it("refuses containerd 2.x, which needs a version-3 config, before writing anything", async () => {
    sb = await containerdNode({ "/.shim/containerd-version": "containerd github.com/containerd/containerd/v2 v2.1.4 abc\n" });
    const r = await sb.run("debian/k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("containerd is 'v2.1.4'");
    expect(sb.read("/etc/containerd/config.toml")).toBe(DEBIAN_PACKAGED_CONFIG);
    expect(sb.callsOf("systemctl")).toEqual([]);
  });

  it("fails when the CNI plugins are not where Debian installs them", async () => {
    sb = await containerdNode();
    await sb.exec(["/deb/rm", "-r", "/.shim/deb-pkgs/containernetworking-plugins"]);
    const r = await sb.run("debian/k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("/usr/lib/cni does not exist after installing containernetworking-plugins");
    expect(sb.callsOf("systemctl")).toEqual([]);
  });

  it.each([[""], ['registry.k8s.io/pause:3.10"\n[x]'], ["pause 3.10"]])("rejects PAUSE_IMAGE %j before installing anything", async (pause) => {
    sb = await containerdNode();
    const r = await sb.run("debian/k8s-containerd.sh", { PAUSE_IMAGE: pause });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PAUSE_IMAGE/);
    expect(sb.calls()).toEqual([]);
  });
});

// The config the script writes, read by the real containerd 1.6 of Debian 12: it must load, and
// the effective (merged with containerd's defaults) values must be the ones the script checks.
describe.skipIf(!(needTool("bwrap") && needTool("dash") && needTool("containerd")))("debian/k8s-containerd.sh config under the real containerd", () => {
  it("loads in containerd 1.x and takes effect, runc runtime type included", async () => {
    sb = await containerdNode();
    const r = await sb.run("debian/k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(0);
    const version = execFileSync("containerd", ["--version"], { encoding: "utf8" });
    expect(version).toMatch(/ v?1\.\d+\./);
    const dump = execFileSync("containerd", ["-c", sb.path("/etc/containerd/config.toml"), "config", "dump"], { encoding: "utf8" });
    const table = (name: string) => dump.split(/\n\s*\n/).find((block) => block.trim().startsWith(`[${name}]`)) ?? "";
    expect(table('plugins."io.containerd.grpc.v1.cri"')).toContain(`sandbox_image = "${PAUSE}"`);
    expect(table('plugins."io.containerd.grpc.v1.cri".cni')).toContain('bin_dir = "/usr/lib/cni"');
    expect(table('plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc')).toContain('runtime_type = "io.containerd.runc.v2"');
    expect(table('plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options')).toContain("SystemdCgroup = true");
  });
});
