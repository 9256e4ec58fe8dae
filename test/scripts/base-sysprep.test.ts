import { afterEach, describe, expect, it } from "vitest";
import { ALPINE_BASE_FILES, ALPINE_SHIMS } from "../support/alpine-shims.js";
import { Sandbox } from "../support/sandbox.js";
import { needTool } from "../support/tools.js";

const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key";
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw/QKow1F+wvG9hXGoqiysfJOn5Y vagrant insecure public key";
const SSHD = "#\t$OpenBSD: sshd_config $\n#UseDNS no\nInclude /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\n  usedns yes\nSubsystem sftp internal-sftp\n";

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

function freshAlpine(extra: Record<string, string | { content: string; mode: number }> = {}) {
  return Sandbox.create({
    files: {
      ...ALPINE_BASE_FILES,
      "/etc/apk/repositories": "http://dl-cdn.alpinelinux.org/alpine/v3.24/main\n#http://dl-cdn.alpinelinux.org/alpine/v3.24/community\n",
      "/etc/ssh/sshd_config": SSHD,
      "/.shim/apk-pkgs/doas/etc/doas.d/doas.conf": "permit persist :wheel\n",
      ...extra,
    },
    shims: ALPINE_SHIMS,
  });
}

describe.skipIf(!(needTool("bwrap") && needTool("busybox")))("base-alpine.sh", () => {
  it("enables the release's community repo and sets up the Vagrant conventions", async () => {
    sb = await freshAlpine();
    const r = await sb.run("base-alpine.sh");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.read("/etc/apk/repositories")).toBe("http://dl-cdn.alpinelinux.org/alpine/v3.24/main\nhttp://dl-cdn.alpinelinux.org/alpine/v3.24/community\n");
    expect(sb.calls()).toEqual([
      "apk update",
      "apk add sudo doas",
      "adduser -D -s /bin/sh -g vagrant vagrant",
      "chpasswd",
      "chown -R vagrant:vagrant /home/vagrant/.ssh",
      "visudo -c -f /etc/sudoers.d/.vagrant.new",
      "doas -C /etc/doas.d/vagrant.conf",
    ]);
    expect(sb.read("/.shim/chpasswd")).toBe("vagrant:vagrant\n");
    expect(sb.read("/home/vagrant/.ssh/authorized_keys")).toBe(`${RSA}\n${ED25519}\n`);
    expect(sb.mode("/home/vagrant/.ssh")).toBe(0o700);
    expect(sb.mode("/home/vagrant/.ssh/authorized_keys")).toBe(0o600);
    expect(sb.read("/etc/sudoers.d/vagrant")).toBe("Defaults:vagrant !requiretty\nvagrant ALL=(ALL) NOPASSWD: ALL\n");
    expect(sb.mode("/etc/sudoers.d/vagrant")).toBe(0o440);
    expect(sb.read("/etc/doas.d/vagrant.conf")).toBe("permit nopass vagrant\n");
    expect(sb.read("/etc/doas.d/doas.conf")).toBe("permit persist :wheel\n");
    // UseDNS no comes first (sshd keeps the first value); every other UseDNS line is gone.
    expect(sb.read("/etc/ssh/sshd_config")).toBe("UseDNS no\n#\t$OpenBSD: sshd_config $\nInclude /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nSubsystem sftp internal-sftp\n");
  });

  it("is idempotent: a second run changes no file and adds no user", async () => {
    sb = await freshAlpine();
    expect((await sb.run("base-alpine.sh")).code).toBe(0);
    const before = ["/etc/apk/repositories", "/etc/ssh/sshd_config", "/etc/passwd", "/home/vagrant/.ssh/authorized_keys", "/etc/doas.d/vagrant.conf"].map((p) => sb!.read(p));
    sb.clearCalls();
    expect((await sb.run("base-alpine.sh")).code).toBe(0);
    expect(["/etc/apk/repositories", "/etc/ssh/sshd_config", "/etc/passwd", "/home/vagrant/.ssh/authorized_keys", "/etc/doas.d/vagrant.conf"].map((p) => sb!.read(p))).toEqual(before);
    expect(sb.callsOf("adduser")).toEqual([]);
  });

  it("writes the doas rule to /etc/doas.conf when this doas has no doas.d", async () => {
    sb = await freshAlpine({ "/.shim/apk-pkgs/doas/etc/doas.conf": "permit persist :wheel\n" });
    sb.write("/.shim/apk-pkgs/doas/etc/doas.d/doas.conf", "");
    // Remove the doas.d payload: simulate the older package layout.
    await sb.exec(["/bb/rm", "-rf", "/.shim/apk-pkgs/doas/etc/doas.d"]);
    const r = await sb.run("base-alpine.sh");
    expect(r.code).toBe(0);
    expect(sb.read("/etc/doas.conf")).toBe("permit persist :wheel\npermit nopass vagrant\n");
    expect(sb.exists("/etc/doas.d")).toBe(false);
  });

  it("leaves no sudoers file when visudo rejects it", async () => {
    sb = await freshAlpine();
    sb.shim("visudo", "echo 'visudo: syntax error' >&2; exit 1");
    const r = await sb.run("base-alpine.sh");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("sudoers rule for vagrant does not validate");
    expect(sb.exists("/etc/sudoers.d/vagrant")).toBe(false);
    expect(sb.exists("/etc/sudoers.d/.vagrant.new")).toBe(false);
  });

  it("refuses to guess a community repo without an enabled main line", async () => {
    sb = await freshAlpine({ "/etc/apk/repositories": "#http://dl-cdn.alpinelinux.org/alpine/v3.24/main\n" });
    const r = await sb.run("base-alpine.sh");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("no enabled .../main repository line");
    expect(sb.calls()).toEqual([]);
  });
});

describe.skipIf(!(needTool("bwrap") && needTool("busybox")))("sysprep.sh", () => {
  const dirty = {
    ...ALPINE_BASE_FILES,
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/etc/ssh/ssh_host_ed25519_key": "secret",
    "/etc/ssh/ssh_host_ed25519_key.pub": "pub",
    "/etc/ssh/sshd_config": "UseDNS no\n",
    "/var/cache/apk/APKINDEX.tar.gz": "index",
    "/var/log/messages": "boot log",
    "/var/log/containerd/containerd.log": "log",
    "/tmp/script_123.sh": "uploaded by packer",
    "/tmp/dir/file": "x",
    "/var/tmp/homelab-k3s.abc/k3s": "x",
    "/root/.ash_history": "history",
    "/home/vagrant/.ash_history": "history",
    "/home/vagrant/.ssh/authorized_keys": { content: `${ED25519}\n`, mode: 0o600 },
    "/etc/sudoers.d/vagrant": { content: "vagrant ALL=(ALL) NOPASSWD: ALL\n", mode: 0o440 },
    "/etc/doas.d/vagrant.conf": { content: "permit nopass vagrant\n", mode: 0o400 },
  };

  it("removes identity, keys, caches, logs, tmp and history, zero-fills until ENOSPC, keeps vagrant's access", async () => {
    sb = await Sandbox.create({ files: dirty, shims: ALPINE_SHIMS });
    const r = await sb.run("sysprep.sh");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.read("/etc/machine-id")).toBe("");
    for (const gone of ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub", "/var/cache/apk/APKINDEX.tar.gz", "/var/log/messages", "/var/log/containerd/containerd.log", "/tmp/script_123.sh", "/tmp/dir", "/var/tmp/homelab-k3s.abc", "/root/.ash_history", "/home/vagrant/.ash_history", "/.homelab-zero-fill"]) {
      expect(sb.exists(gone), gone).toBe(false);
    }
    expect(sb.exists("/var/log/containerd")).toBe(true); // directories services log into stay
    expect(sb.read("/home/vagrant/.ssh/authorized_keys")).toBe(`${ED25519}\n`);
    expect(sb.read("/etc/sudoers.d/vagrant")).toContain("NOPASSWD");
    expect(sb.read("/etc/doas.d/vagrant.conf")).toBe("permit nopass vagrant\n");
    expect(sb.read("/etc/ssh/sshd_config")).toBe("UseDNS no\n");
    expect(sb.calls()).toEqual(["dd if=/dev/zero of=/.homelab-zero-fill bs=1M", "fstrim -v /"]);
    expect(r.stdout).toContain("zero fill reached the end of free space");
  });

  it("fails on a zero-fill error other than a full disk, leaving no fill file", async () => {
    sb = await Sandbox.create({ files: dirty, shims: { ...ALPINE_SHIMS, dd: `echo "dd: can't open '/.homelab-zero-fill': Read-only file system" >&2; exit 1` } });
    const r = await sb.run("sysprep.sh");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("zero fill failed: dd: can't open '/.homelab-zero-fill': Read-only file system");
    expect(sb.exists("/.homelab-zero-fill")).toBe(false);
  });

  it("tolerates fstrim being unsupported, and skips the zero fill on request", async () => {
    sb = await Sandbox.create({ files: dirty, shims: { ...ALPINE_SHIMS, fstrim: "echo 'fstrim: /: the discard operation is not supported' >&2; exit 1" } });
    const r = await sb.run("sysprep.sh", { SYSPREP_ZERO_FILL: "no" });
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual(["fstrim -v /"]);
  });
});
