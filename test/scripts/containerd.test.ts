import { afterEach, describe, expect, it } from "vitest";
import { ALPINE_BASE_FILES, ALPINE_SHIMS } from "../support/alpine-shims.js";
import { Sandbox } from "../support/sandbox.js";
import { needTool } from "../support/tools.js";
import { CONTAINERD_20_CONFIG, CONTAINERD_PACKAGED_CONFIG, CONTAINERD_UPSTREAM_DEFAULT } from "./fixtures.js";

const PAUSE = "registry.k8s.io/pause:3.10.1";
let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

/** A sandbox whose `apk add containerd ...` installs the given packaged config (or none). */
function containerdNode(packagedConfig: string | undefined, dumpSed?: string): Promise<Sandbox> {
  const files: Record<string, string | { content: string; mode: number }> = {
    ...ALPINE_BASE_FILES,
    "/.shim/apk-pkgs/containerd/etc/init.d/containerd": { content: "#!/sbin/openrc-run\n", mode: 0o755 },
    "/.shim/apk-pkgs/cni-plugins/usr/libexec/cni/bridge": { content: "", mode: 0o755 },
    "/.shim/containerd-default.toml": CONTAINERD_UPSTREAM_DEFAULT,
  };
  if (packagedConfig !== undefined) files["/.shim/apk-pkgs/containerd/etc/containerd/config.toml"] = packagedConfig;
  if (dumpSed !== undefined) files["/.shim/dump.sed"] = dumpSed;
  return Sandbox.create({ files, shims: ALPINE_SHIMS });
}

const RUNC_OPTIONS = "          [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n";

describe.skipIf(!(needTool("bwrap") && needTool("busybox")))("k8s-containerd.sh", () => {
  it("edits exactly three settings of the packaged v3 config, enables and starts containerd, checks the dump", async () => {
    sb = await containerdNode(CONTAINERD_PACKAGED_CONFIG);
    const r = await sb.run("k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // Everything the package set is kept; only the three settings differ.
    const expected = CONTAINERD_PACKAGED_CONFIG.replace(
      "      sandbox = 'registry.k8s.io/pause:3.10'\n",
      `      sandbox = '${PAUSE}'\n`,
    ).replace("            ShimCgroup = ''\n", "            ShimCgroup = ''\n            SystemdCgroup = false\n");
    expect(sb.read("/etc/containerd/config.toml")).toBe(expected);
    expect(sb.mode("/etc/containerd/config.toml")).toBe(0o644);
    expect(sb.calls()).toEqual([
      "apk add containerd containerd-ctr runc cni-plugins",
      "rc-update add cgroups default",
      "rc-update add containerd default",
      "rc-service containerd status",
      "rc-service containerd start",
      "containerd config dump",
      "ctr version",
    ]);
  });

  it("sets bin_dir on containerd 2.0, which has no bin_dirs", async () => {
    sb = await containerdNode(CONTAINERD_20_CONFIG);
    const r = await sb.run("k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(0);
    const cfg = sb.read("/etc/containerd/config.toml");
    expect(cfg).toContain("      bin_dir = '/usr/libexec/cni'\n");
    expect(cfg).not.toContain("bin_dirs");
  });

  it("starts from `containerd config default` when the package ships no config, and moves CNI to /usr/libexec/cni", async () => {
    sb = await containerdNode(undefined);
    const r = await sb.run("k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).toBe(0);
    expect(sb.callsOf("containerd")).toEqual(["containerd config default", "containerd config dump"]);
    const cfg = sb.read("/etc/containerd/config.toml");
    expect(cfg).toContain("      bin_dirs = ['/usr/libexec/cni']\n");
    expect(cfg).not.toContain("/opt/cni/bin");
    expect(cfg).toContain(`sandbox = '${PAUSE}'`);
    expect(cfg).toContain(`${RUNC_OPTIONS}`);
  });

  it("adds the runc options table when the config has none (and the result still loads)", async () => {
    const noOptions = CONTAINERD_PACKAGED_CONFIG.replace(/ {10}\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\.options\]\n( {12}.*\n)+/, "");
    sb = await containerdNode(noOptions);
    const r = await sb.run("k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.read("/etc/containerd/config.toml")).toMatch(/\n\[plugins\.'io\.containerd\.cri\.v1\.runtime'\.containerd\.runtimes\.runc\.options\]\nSystemdCgroup = false\n$/);
  });

  it("fails loudly when the effective config still has the systemd cgroup driver", async () => {
    sb = await containerdNode(CONTAINERD_PACKAGED_CONFIG, "s/SystemdCgroup = false/SystemdCgroup = true/\n");
    const r = await sb.run("k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('cgroup driver did not take: SystemdCgroup is "true" in the effective config, expected false');
    expect(sb.callsOf("ctr")).toEqual([]);
  });

  it("fails loudly when the effective sandbox image is not the pinned one", async () => {
    sb = await containerdNode(CONTAINERD_PACKAGED_CONFIG, "s#sandbox = .*#sandbox = 'registry.k8s.io/pause:3.8'#\n");
    const r = await sb.run("k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`sandbox image did not take: pinned_images.sandbox is "registry.k8s.io/pause:3.8" in the effective config, expected "${PAUSE}"`);
  });

  it("fails loudly when the effective CNI directory is upstream's /opt/cni/bin", async () => {
    sb = await containerdNode(CONTAINERD_PACKAGED_CONFIG, "s#/usr/libexec/cni#/opt/cni/bin#\n");
    const r = await sb.run("k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("CNI directory did not take: bin_dirs=['/opt/cni/bin']");
  });

  it("refuses a config that is not version 3 (containerd 1.x)", async () => {
    sb = await containerdNode(CONTAINERD_PACKAGED_CONFIG.replace("version = 3", "version = 2"));
    const r = await sb.run("k8s-containerd.sh", { PAUSE_IMAGE: PAUSE });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("config version '2'; expected version = 3");
    expect(sb.callsOf("rc-update")).toEqual([]);
  });

  it.each([[""], ["registry.k8s.io/pause:3.10'\n[x]"], ["pause 3.10"]])("rejects PAUSE_IMAGE %j before installing anything", async (pause) => {
    sb = await containerdNode(CONTAINERD_PACKAGED_CONFIG);
    const r = await sb.run("k8s-containerd.sh", { PAUSE_IMAGE: pause });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/PAUSE_IMAGE/);
    expect(sb.calls()).toEqual([]);
  });
});
