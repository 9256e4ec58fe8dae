import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { ALPINE, DEBIAN, type FamilyUserland, type Files } from "../support/shims.js";

/** A node after every other step, with everything sysprep must remove and everything it must keep. */
const DIRTY: Files = {
  "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
  "/var/lib/dbus/machine-id": "0123456789abcdef0123456789abcdef\n",
  "/etc/ssh/ssh_host_ed25519_key": "secret",
  "/etc/ssh/ssh_host_ed25519_key.pub": "pub",
  "/etc/ssh/ssh_host_rsa_key": "secret",
  "/etc/ssh/sshd_config": "UseDNS no\n",
  "/var/cache/apk/APKINDEX.tar.gz": "index",
  "/var/cache/apt/archives/containerd_1.6.20.deb": "deb",
  "/var/log/messages": "boot log",
  "/var/log/containerd/containerd.log": "log",
  "/var/log/journal/abc/system.journal": "journal",
  "/var/lib/dhcp/dhclient.eth0.leases": "lease",
  "/tmp/script_123.sh": "uploaded by packer",
  "/tmp/dir/file": "x",
  "/var/tmp/homelab-k3s.abc/k3s": "x",
  "/root/.ash_history": "history",
  "/root/.bash_history": "history",
  "/home/vagrant/.ash_history": "history",
  "/home/vagrant/.bash_history": "history",
  "/home/vagrant/.lesshst": "less",
  "/home/vagrant/.ssh/authorized_keys": { content: "keys\n", mode: 0o600 },
  "/etc/sudoers.d/vagrant": { content: "vagrant ALL=(ALL) NOPASSWD: ALL\n", mode: 0o440 },
  "/etc/doas.d/vagrant.conf": { content: "permit nopass vagrant\n", mode: 0o400 },
  // The build logged in as root with a password (Alpine: install.sh's "vagrant").
  "/etc/shadow": { content: "root:$6$salt$hashOfVagrant:20000:0:::::\nvagrant:$6$salt2$hash2:20000:0:99999:7:::\n", mode: 0o640 },
  // A drop-in homelab did not write: it stays.
  "/etc/ssh/sshd_config.d/50-site.conf": "ClientAliveInterval 60\n",
};
/** install.sh's drop-in for the build's root login (Alpine). */
const BUILD_DROP_IN = { "/etc/ssh/sshd_config.d/10-homelab-build.conf": "PermitRootLogin yes\nPasswordAuthentication yes\nUseDNS no\n" };
const GONE = [
  "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_ed25519_key.pub", "/etc/ssh/ssh_host_rsa_key", "/var/log/messages",
  "/var/log/containerd/containerd.log", "/var/log/journal/abc/system.journal", "/var/lib/dhcp/dhclient.eth0.leases", "/tmp/script_123.sh",
  "/tmp/dir", "/var/tmp/homelab-k3s.abc", "/root/.ash_history", "/root/.bash_history", "/home/vagrant/.ash_history",
  "/home/vagrant/.bash_history", "/home/vagrant/.lesshst", "/.homelab-zero-fill",
];

interface SysprepCase {
  fam: FamilyUserland;
  /** The package cache the family's package manager keeps. */
  cache: string;
  /** The calls of a run on a disk with discard: clean the cache, host keys at boot, fstrim. */
  calls: string[];
}

const CASES: SysprepCase[] = [
  // Alpine's sshd service creates missing host keys itself; nothing makes a machine-id but ours.
  { fam: ALPINE, cache: "/var/cache/apk/APKINDEX.tar.gz", calls: ["rc-update add machine-id default", "passwd -l root", "fstrim -v /"] },
  {
    fam: DEBIAN,
    cache: "/var/cache/apt/archives/containerd_1.6.20.deb",
    calls: [
      "apt-get clean", "systemctl daemon-reload", "systemctl enable ssh-host-keys.service", "passwd -l root",
      "systemctl daemon-reload", "systemctl enable homelab-first-boot.service", "fstrim -v /",
    ],
  },
];

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

describe.each(CASES)("sysprep on $fam.family", (c) => {
  const sysprep = shippedScript(c.fam.family, "sysprep");
  const dirty = (extra: Files = {}) => familySandbox(c.fam, { ...DIRTY, ...(c.fam.family === "alpine" ? BUILD_DROP_IN : {}), ...extra });

  it.skipIf(!canRun(c.fam))("clears identity, host keys, package cache, logs, leases, tmp and history; keeps vagrant's access; fstrim instead of zeros", async () => {
    sb = await dirty();
    const r = await sb.run(sysprep);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual(c.calls);
    expect(sb.read("/etc/machine-id")).toBe("");
    expect(sb.mode("/etc/machine-id")).toBe(0o444);
    // D-Bus's copy is the same (empty) id.
    expect((await sb.exec([`${c.fam.bin}/readlink`, "/var/lib/dbus/machine-id"])).stdout).toBe("/etc/machine-id\n");
    for (const gone of [...GONE, c.cache]) expect(sb.exists(gone), gone).toBe(false);
    // The directories services log into stay.
    expect(sb.exists("/var/log/containerd")).toBe(true);
    expect(sb.exists("/var/log/journal/abc")).toBe(true);
    expect(sb.read("/home/vagrant/.ssh/authorized_keys")).toBe("keys\n");
    expect(sb.read("/etc/sudoers.d/vagrant")).toContain("NOPASSWD");
    expect(sb.read("/etc/doas.d/vagrant.conf")).toBe("permit nopass vagrant\n");
    expect(sb.read("/etc/ssh/sshd_config")).toBe("UseDNS no\n");
    expect(r.stdout).toContain("fstrim done; no zero fill needed");
  });

  it.skipIf(!canRun(c.fam))("ends the build's root login: the build drop-in is gone, root's password is locked, and it says so", async () => {
    sb = await dirty();
    const r = await sb.run(sysprep);
    expect(r.code).toBe(0);
    expect(sb.exists("/etc/ssh/sshd_config.d/10-homelab-build.conf")).toBe(false);
    expect(sb.read("/etc/ssh/sshd_config.d/50-site.conf")).toBe("ClientAliveInterval 60\n");
    const shadow = sb.read("/etc/shadow").split("\n");
    expect(shadow[0]).toBe("root:!$6$salt$hashOfVagrant:20000:0:::::");
    expect(shadow[1]).toBe("vagrant:$6$salt2$hash2:20000:0:99999:7:::");
    expect(r.stdout).toContain("ok   root password locked");
    expect(r.stdout).toContain("ok   no sshd drop-in permits root logins");
  });

  it.skipIf(!canRun(c.fam))("passes an image's own drop-in that allows password logins for the vagrant user (the Vagrant convention; the e2e base image has one)", async () => {
    sb = await dirty({ "/etc/ssh/sshd_config.d/50-fixture.conf": "PasswordAuthentication yes\nUseDNS no\n" });
    const r = await sb.run(sysprep);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("ok   no sshd drop-in permits root logins");
    expect(sb.read("/etc/ssh/sshd_config.d/50-fixture.conf")).toBe("PasswordAuthentication yes\nUseDNS no\n");
  });

  it.skipIf(!canRun(c.fam))("fails the build when root can still log in with a password: a lock that did not take, a drop-in that permits it", async () => {
    sb = await dirty({ "/etc/ssh/sshd_config.d/60-site.conf": "PermitRootLogin yes\n" });
    sb.shim("passwd", "exit 0");
    const r = await sb.run(sysprep);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("FAIL root password locked: root's password in /etc/shadow is usable");
    expect(r.stdout).toContain("FAIL no sshd drop-in permits root logins: /etc/ssh/sshd_config.d/60-site.conf");
    expect(r.stderr).toContain("sysprep: ERROR: root can still log in with a password");
    // Not homelab's file: reported, never removed.
    expect(sb.read("/etc/ssh/sshd_config.d/60-site.conf")).toBe("PermitRootLogin yes\n");
  });

  it.skipIf(!canRun(c.fam))("zero-fills until ENOSPC when fstrim is not supported, and removes the fill file", async () => {
    sb = await dirty({ "/.shim/fstrim-unsupported": "" });
    const r = await sb.run(sysprep);
    expect(r.stderr).toBe("fstrim: /: the discard operation is not supported\n");
    expect(r.code).toBe(0);
    expect(sb.calls().slice(-2)).toEqual(["fstrim -v /", "dd if=/dev/zero of=/.homelab-zero-fill bs=1M"]);
    expect(r.stdout).toContain("zero fill reached the end of free space");
    expect(sb.exists("/.homelab-zero-fill")).toBe(false);
  });

  it.skipIf(!canRun(c.fam))("skips the zero fill with SYSPREP_ZERO_FILL=no, fails on a dd error other than ENOSPC, refuses other values", async () => {
    sb = await dirty({ "/.shim/fstrim-unsupported": "" });
    const r = await sb.run(sysprep, { SYSPREP_ZERO_FILL: "no" });
    expect(r.code).toBe(0);
    expect(sb.callsOf("dd")).toEqual([]);
    sb.shim("dd", `echo "dd: can't open '/.homelab-zero-fill': Read-only file system" >&2; exit 1`);
    const bad = await sb.run(sysprep);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("sysprep: ERROR: zero fill failed: dd: can't open '/.homelab-zero-fill': Read-only file system");
    expect(sb.exists("/.homelab-zero-fill")).toBe(false);
    const invalid = await sb.run(sysprep, { SYSPREP_ZERO_FILL: "maybe" });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("SYSPREP_ZERO_FILL 'maybe' must be yes or no");
  });
});

describe.skipIf(!canRun(ALPINE))("sysprep, Alpine's part", () => {
  it("gives each clone its own machine-id at its first boot (OpenRC has no systemd to do it), and keeps it after", async () => {
    sb = await familySandbox(ALPINE, DIRTY);
    expect((await sb.run(shippedScript("alpine", "sysprep"))).code).toBe(0);
    expect(sb.read("/etc/machine-id")).toBe("");
    expect(sb.read("/etc/init.d/machine-id")).toMatch(/^\s*before .*containerd kubelet k3s/m);
    const first = await sb.exec(["rc-service", "machine-id", "start"]);
    expect(first.code).toBe(0);
    const id = sb.read("/etc/machine-id");
    expect(id).toMatch(/^[0-9a-f]{32}\n$/);
    expect(id).not.toBe("0123456789abcdef0123456789abcdef\n");
    await sb.exec(["rc-service", "machine-id", "start"]);
    expect(sb.read("/etc/machine-id")).toBe(id);
  });
});

describe.skipIf(!canRun(DEBIAN))("sysprep, Debian's part", () => {
  it("regenerates the host keys at boot with a oneshot unit ordered before ssh", async () => {
    sb = await familySandbox(DEBIAN, DIRTY);
    expect((await sb.run(shippedScript("debian", "sysprep"))).code).toBe(0);
    const unit = sb.read("/etc/systemd/system/ssh-host-keys.service");
    expect(unit).toContain("Before=ssh.service");
    expect(unit).toContain("ExecStart=/usr/bin/ssh-keygen -A\n");
    expect(unit).toMatch(/WantedBy=.*ssh\.service/);
    expect(sb.read("/.shim/enabled").split("\n")[0]).toBe("ssh-host-keys.service");
  });
});

describe.skipIf(!canRun(DEBIAN))("sysprep, Debian's part: each clone's own DHCP identity and host name", () => {
  /** What dhclient writes at the build VM's shutdown, after sysprep: the lease and the DUID it identifies with. */
  const LEASES = {
    "/var/lib/dhcp/dhclient.eth0.leases":
      'default-duid "\\000\\001\\000\\001*\\2134\\022RT\\000\\022\\0344V";\nlease {\n  interface "eth0";\n  fixed-address 192.168.121.45;\n}\n',
    "/var/lib/dhcp/dhclient6.eth0.leases": "default-duid \"x\";\n",
  };

  it("installs a oneshot unit, enabled, ordered before the network, that runs until its marker exists", async () => {
    sb = await familySandbox(DEBIAN, DIRTY);
    expect((await sb.run(shippedScript("debian", "sysprep"))).code).toBe(0);
    const unit = sb.read("/etc/systemd/system/homelab-first-boot.service");
    expect(unit).toMatch(/^Before=network-pre\.target networking\.service /m);
    expect(unit).toMatch(/^Wants=network-pre\.target$/m);
    expect(unit).toMatch(/^DefaultDependencies=no$/m);
    expect(unit).toContain("ConditionPathExists=!/var/lib/homelab/first-boot-done\n");
    expect(unit).toContain("ExecStart=/usr/local/sbin/homelab-first-boot\n");
    expect(sb.read("/.shim/enabled")).toBe("ssh-host-keys.service\nhomelab-first-boot.service\n");
    expect(sb.mode("/usr/local/sbin/homelab-first-boot")).toBe(0o755);
  });

  it("at a clone's first boot: drops the leases the build VM wrote at shutdown (the DUID with them), names the host by its machine-id, once", async () => {
    sb = await familySandbox(DEBIAN, { ...DIRTY, "/etc/hostname": "debian\n", "/etc/hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost\n" });
    expect((await sb.run(shippedScript("debian", "sysprep"))).code).toBe(0);
    // The build VM shuts down: dhclient writes its leases again. The clone boots with a new machine-id.
    for (const [path, content] of Object.entries(LEASES)) sb.write(path, content);
    sb.write("/etc/machine-id", "4f1c9a20d3b84e6f9a1b2c3d4e5f6a7b\n");
    sb.write("/var/lib/dhcp/keep.conf", "not a lease\n");
    sb.shim("hostname", 'echo "$1" > "$STATE/kernel-hostname"');
    const first = await sb.exec([`${DEBIAN.bin}/sh`, "/usr/local/sbin/homelab-first-boot"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    for (const path of Object.keys(LEASES)) expect(sb.exists(path), path).toBe(false);
    expect(sb.read("/var/lib/dhcp/keep.conf")).toBe("not a lease\n");
    expect(sb.read("/etc/hostname")).toBe("debian-4f1c9a20\n");
    expect(sb.read("/.shim/kernel-hostname")).toBe("debian-4f1c9a20\n");
    expect(sb.read("/etc/hosts")).toBe("127.0.0.1\tlocalhost\n127.0.1.1\tdebian-4f1c9a20\n::1\tlocalhost\n");
    expect(sb.exists("/var/lib/homelab/first-boot-done")).toBe(true);
    // Later boots: the leases dhclient writes from now on are this clone's own, and stay.
    sb.write("/var/lib/dhcp/dhclient.eth0.leases", "lease {}\n");
    expect((await sb.exec([`${DEBIAN.bin}/sh`, "/usr/local/sbin/homelab-first-boot"])).code).toBe(0);
    expect(sb.read("/var/lib/dhcp/dhclient.eth0.leases")).toBe("lease {}\n");
    expect(sb.read("/etc/hostname")).toBe("debian-4f1c9a20\n");
  });

  it("fails (and leaves the marker unset, to run again) when the machine-id is not there yet", async () => {
    sb = await familySandbox(DEBIAN, DIRTY);
    expect((await sb.run(shippedScript("debian", "sysprep"))).code).toBe(0);
    sb.shim("hostname", "exit 0");
    const r = await sb.exec([`${DEBIAN.bin}/sh`, "/usr/local/sbin/homelab-first-boot"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("homelab-first-boot: /etc/machine-id is not set yet");
    expect(sb.exists("/var/lib/homelab/first-boot-done")).toBe(false);
  });
});
