import { afterEach, describe, expect, it } from "vitest";
import { ALPINE_BASE_FILES, ALPINE_SHIMS } from "../support/alpine-shims.js";
import { Sandbox } from "../support/sandbox.js";
import { needTool } from "../support/tools.js";

const haveTools = needTool("bwrap") && needTool("busybox");
let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

describe.skipIf(!haveTools)("k8s-kernel.sh", () => {
  it("persists modules and sysctls, applies them with sysctl -p, and makes / rshared now and at boot", async () => {
    sb = await Sandbox.create({ files: ALPINE_BASE_FILES, shims: ALPINE_SHIMS });
    const r = await sb.run("k8s-kernel.sh");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.read("/etc/modules-load.d/k8s.conf")).toBe("overlay\nbr_netfilter\n");
    const sysctls = sb.read("/etc/sysctl.d/99-k8s.conf");
    for (const line of [
      "net.bridge.bridge-nf-call-iptables = 1",
      "net.bridge.bridge-nf-call-ip6tables = 1",
      "net.ipv4.ip_forward = 1",
      "fs.inotify.max_user_instances = 8192",
      "fs.inotify.max_user_watches = 524288",
    ]) {
      expect(sysctls.split("\n")).toContain(line);
    }
    expect(sb.mode("/etc/local.d/k8s-rshared.start")).toBe(0o755);
    expect(sb.read("/etc/local.d/k8s-rshared.start")).toMatch(/^#!\/bin\/sh\n[\s\S]*^mount --make-rshared \/$/m);
    // BusyBox sysctl has no --system: the file is applied explicitly.
    expect(sb.calls()).toEqual([
      "modprobe overlay",
      "modprobe br_netfilter",
      "sysctl -p /etc/sysctl.d/99-k8s.conf",
      "rc-update add local default",
      "mount --make-rshared /",
    ]);
  });

  it("stops when a module cannot be loaded", async () => {
    sb = await Sandbox.create({ files: ALPINE_BASE_FILES, shims: { ...ALPINE_SHIMS, modprobe: `[ "$1" = br_netfilter ] && { echo "modprobe: module br_netfilter not found" >&2; exit 1; }; exit 0` } });
    const r = await sb.run("k8s-kernel.sh");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("br_netfilter not found");
    expect(sb.callsOf("sysctl")).toEqual([]);
  });
});

describe.skipIf(!haveTools)("k8s-swap.sh", () => {
  it("turns swap off and removes only real swap entries from fstab", async () => {
    const fstab = [
      "# /etc/fstab: static file system information.",
      "UUID=1111 / ext4 rw,relatime 0 1",
      "UUID=2222 /boot ext4 rw,relatime 0 2",
      "UUID=3333 none swap sw 0 0",
      "/swapfile\tnone\tswap\tdefaults\t0 0",
      "# UUID=4444 none swap sw 0 0",
      "/dev/vdb /srv/swap-archive ext4 defaults 0 2",
      "tmpfs /tmp tmpfs nosuid,nodev 0 0",
      "",
    ].join("\n");
    sb = await Sandbox.create({ files: { ...ALPINE_BASE_FILES, "/etc/fstab": fstab }, shims: ALPINE_SHIMS });
    const r = await sb.run("k8s-swap.sh");
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual(["swapoff -a"]);
    expect(sb.read("/etc/fstab")).toBe(
      [
        "# /etc/fstab: static file system information.",
        "UUID=1111 / ext4 rw,relatime 0 1",
        "UUID=2222 /boot ext4 rw,relatime 0 2",
        "# UUID=4444 none swap sw 0 0",
        "/dev/vdb /srv/swap-archive ext4 defaults 0 2",
        "tmpfs /tmp tmpfs nosuid,nodev 0 0",
        "",
      ].join("\n"),
    );
    expect(r.stdout).toContain("removed 2 swap entries");
  });

  it("fails when swapoff fails (swap would stay on)", async () => {
    sb = await Sandbox.create({ files: { ...ALPINE_BASE_FILES, "/etc/fstab": "UUID=3 none swap sw 0 0\n" }, shims: { ...ALPINE_SHIMS, swapoff: "echo 'swapoff: /dev/vda2: Cannot allocate memory' >&2; exit 1" } });
    const r = await sb.run("k8s-swap.sh");
    expect(r.code).not.toBe(0);
    expect(sb.read("/etc/fstab")).toBe("UUID=3 none swap sw 0 0\n");
  });
});
