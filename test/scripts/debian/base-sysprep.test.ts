import { afterEach, describe, expect, it } from "vitest";
import { DEBIAN_BASE_FILES, DEBIAN_SHIMS } from "../../support/debian-shims.js";
import { Sandbox } from "../../support/sandbox.js";
import { needTool } from "../../support/tools.js";

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key";
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw/QKow1F+wvG9hXGoqiysfJOn5Y vagrant insecure public key";
const SSHD = "Include /etc/ssh/sshd_config.d/*.conf\n#UseDNS no\nPermitRootLogin prohibit-password\n  usedns yes\nUsePAM yes\n";

const debianNode = (files: Record<string, string | { content: string; mode: number }>) =>
  Sandbox.create({ userland: "debian", shims: DEBIAN_SHIMS, files: { ...DEBIAN_BASE_FILES, "/etc/ssh/sshd_config": SSHD, ...files } });

/** Every file the base script owns, to compare two runs. */
function baseState(s: Sandbox): Record<string, string> {
  return Object.fromEntries(["/etc/passwd", "/home/vagrant/.ssh/authorized_keys", "/etc/sudoers.d/vagrant", "/etc/ssh/sshd_config"].map((p) => [p, s.read(p)]));
}

describe.skipIf(!(needTool("bwrap") && needTool("dash")))("debian/base-debian.sh", () => {
  it("on a minimal image: installs sudo, creates vagrant/vagrant with both insecure keys, sudoers, UseDNS no", async () => {
    sb = await debianNode({});
    await sb.exec(["/deb/rm", "/usr/bin/sudo"]); // debootstrap minbase: no sudo
    const r = await sb.run("debian/base-debian.sh");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual([
      "apt-get update",
      "apt-get install -y --no-install-recommends sudo",
      "useradd --create-home --shell /bin/bash --comment vagrant vagrant",
      "chpasswd",
      "chown -R vagrant:vagrant /home/vagrant/.ssh",
      "visudo -c -f /etc/sudoers.d/.vagrant.new",
    ]);
    expect(sb.read("/.shim/chpasswd")).toBe("vagrant:vagrant\n");
    expect(sb.read("/home/vagrant/.ssh/authorized_keys")).toBe(`${RSA}\n${ED25519}\n`);
    expect(sb.mode("/home/vagrant/.ssh")).toBe(0o700);
    expect(sb.mode("/home/vagrant/.ssh/authorized_keys")).toBe(0o600);
    expect(sb.read("/etc/sudoers.d/vagrant")).toBe("Defaults:vagrant !requiretty\nvagrant ALL=(ALL) NOPASSWD: ALL\n");
    expect(sb.mode("/etc/sudoers.d/vagrant")).toBe(0o440);
    expect(sb.read("/etc/ssh/sshd_config")).toBe("UseDNS no\nInclude /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin prohibit-password\nUsePAM yes\n");
  });

  it("keeps an existing vagrant user and is idempotent: a second run changes no file", async () => {
    sb = await debianNode({ "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\nvagrant:x:1000:1000:,,,:/home/vagrant:/bin/bash\n" });
    sb.write("/home/vagrant/.profile", "");
    const first = await sb.run("debian/base-debian.sh");
    expect(first.code).toBe(0);
    expect(sb.callsOf("useradd")).toEqual([]);
    expect(sb.callsOf("apt-get")).toEqual([]); // sudo is there
    const after1 = baseState(sb);
    sb.clearCalls();
    const second = await sb.run("debian/base-debian.sh");
    expect(second.code).toBe(0);
    expect(baseState(sb)).toEqual(after1);
    expect(sb.calls()).toEqual(["chpasswd", "chown -R vagrant:vagrant /home/vagrant/.ssh", "visudo -c -f /etc/sudoers.d/.vagrant.new"]);
    expect(sb.read("/etc/ssh/sshd_config").match(/usedns/gi)).toHaveLength(1);
  });

  it("refuses a sudoers rule that does not validate and leaves no rule behind", async () => {
    sb = await debianNode({ "/.shim/visudo-fail": "" });
    const r = await sb.run("debian/base-debian.sh");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("sudoers rule for vagrant does not validate");
    expect(sb.exists("/etc/sudoers.d/vagrant")).toBe(false);
    expect(sb.exists("/etc/sudoers.d/.vagrant.new")).toBe(false);
  });
});

describe.skipIf(!(needTool("bwrap") && needTool("dash")))("debian/sysprep.sh", () => {
  const dirty = {
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/var/lib/dbus/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/etc/ssh/ssh_host_ed25519_key": "secret",
    "/etc/ssh/ssh_host_ed25519_key.pub": "pub",
    "/etc/ssh/ssh_host_rsa_key": "secret",
    "/var/cache/apt/archives/containerd_1.6.20.deb": "deb",
    "/var/log/apt/history.log": "log",
    "/var/log/journal/abc/system.journal": "journal",
    "/var/lib/dhcp/dhclient.eth0.leases": "lease",
    "/tmp/x/y": "t",
    "/var/tmp/homelab-k8s.1/kubeadm": "t",
    "/root/.bash_history": "h",
    "/home/vagrant/.bash_history": "h",
    "/home/vagrant/.ssh/authorized_keys": "keys",
    "/etc/sudoers.d/vagrant": "rule",
  };

  it("clears identity, host keys, caches, logs, leases, tmp and history; regenerates host keys at boot; fstrim instead of zeros", async () => {
    sb = await debianNode(dirty);
    const r = await sb.run("debian/sysprep.sh");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual(["apt-get clean", "systemctl daemon-reload", "systemctl enable ssh-host-keys.service", "fstrim -av"]);
    expect(sb.read("/etc/machine-id")).toBe("");
    expect(sb.mode("/etc/machine-id")).toBe(0o444);
    const link = await sb.exec(["/deb/readlink", "/var/lib/dbus/machine-id"]);
    expect(link.stdout).toBe("/etc/machine-id\n");
    for (const gone of ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub", "/etc/ssh/ssh_host_rsa_key", "/var/cache/apt/archives/containerd_1.6.20.deb",
      "/var/log/apt/history.log", "/var/log/journal/abc/system.journal", "/var/lib/dhcp/dhclient.eth0.leases", "/tmp/x", "/var/tmp/homelab-k8s.1", "/root/.bash_history", "/home/vagrant/.bash_history"]) {
      expect(sb.exists(gone), gone).toBe(false);
    }
    expect(sb.exists("/var/log/journal/abc")).toBe(true);
    expect(sb.read("/home/vagrant/.ssh/authorized_keys")).toBe("keys");
    expect(sb.read("/etc/sudoers.d/vagrant")).toBe("rule");
    const unit = sb.read("/etc/systemd/system/ssh-host-keys.service");
    expect(unit).toContain("Before=ssh.service");
    expect(unit).toContain("ExecStart=/usr/bin/ssh-keygen -A\n");
    expect(unit).toMatch(/WantedBy=.*ssh\.service/);
    expect(sb.read("/.shim/enabled")).toBe("ssh-host-keys.service\n");
    expect(sb.exists("/.homelab-zero-fill")).toBe(false);
  });

  it("zero-fills until ENOSPC when fstrim is not supported, and removes the fill file", async () => {
    sb = await debianNode({ ...dirty, "/.shim/fstrim-unsupported": "" });
    const r = await sb.run("debian/sysprep.sh");
    expect(r.stderr).toBe("fstrim: /: the discard operation is not supported\n");
    expect(r.code).toBe(0);
    expect(sb.calls().slice(-2)).toEqual(["fstrim -av", "dd if=/dev/zero of=/.homelab-zero-fill bs=1M"]);
    expect(r.stdout).toContain("zero fill reached the end of free space");
    expect(sb.exists("/.homelab-zero-fill")).toBe(false);
  });

  it("skips the zero fill with SYSPREP_ZERO_FILL=no, and fails on a dd error other than ENOSPC", async () => {
    sb = await debianNode({ ...dirty, "/.shim/fstrim-unsupported": "" });
    const r = await sb.run("debian/sysprep.sh", { SYSPREP_ZERO_FILL: "no" });
    expect(r.code).toBe(0);
    expect(sb.callsOf("dd")).toEqual([]);
    sb.shim("dd", 'echo "dd: error writing: Input/output error" >&2; exit 1');
    const bad = await sb.run("debian/sysprep.sh");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("zero fill failed: dd: error writing: Input/output error");
    const invalid = await sb.run("debian/sysprep.sh", { SYSPREP_ZERO_FILL: "maybe" });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("SYSPREP_ZERO_FILL 'maybe' must be yes or no");
  });
});
