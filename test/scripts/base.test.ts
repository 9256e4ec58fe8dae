import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { ALPINE, DEBIAN, type FamilyUserland, type Files } from "../support/shims.js";

const RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAABIwAAAQEA6NF8iallvQVp22WDkTkyrtvp9eWW6A8YVr+kz4TjGYe7gHzIw+niNltGEFHzD8+v1I2YJ6oXevct1YeS0o9HZyN1Q9qgCgzUFtdOKLv6IedplqoPkcmF0aYet2PkEDo3MlTBckFXPITAMzF8dJSIFo9D8HfdOV0IAdx4O7PtixWKn5y2hMNG0zQPyUecp4pzC6kivAIhyfHilFR61RGL+GPXQ2MWZWFYbAGjyiYJnAmCP3NOTd0jMZEnDkbUvxhMmBYSdETk1rRgm+R4LOzFUGaHqHDLKLX+FIPKcF96hrucXzcWyLbIbEgE98OHlnVYCzRdK8jlqm8tehUc9c9WhQ== vagrant insecure public key";
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw/QKow1F+wvG9hXGoqiysfJOn5Y vagrant insecure public key";
/** An sshd_config with UseDNS commented, included and set in odd spellings: only ours may stay. */
const SSHD = "#\t$OpenBSD: sshd_config $\n#UseDNS no\nInclude /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin prohibit-password\n  usedns yes\nSubsystem sftp internal-sftp\n";
const SSHD_AFTER = "UseDNS no\n#\t$OpenBSD: sshd_config $\nInclude /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n";

/** One specification of the base step, with what each family does its own way as data. */
interface BaseCase {
  fam: FamilyUserland;
  /** A fresh install as the family's installer leaves it. */
  fresh: Files;
  /** Every command the first run calls, in order. */
  calls: string[];
  /** The files the step owns, compared between two runs. */
  owned: string[];
}

const CASES: BaseCase[] = [
  {
    fam: ALPINE,
    fresh: {
      "/etc/apk/repositories": "http://dl-cdn.alpinelinux.org/alpine/v3.24/main\n#http://dl-cdn.alpinelinux.org/alpine/v3.24/community\n",
      "/.shim/pkgs/doas/etc/doas.d/doas.conf": "permit persist :wheel\n",
      // aports main/chrony: the service is /etc/init.d/chronyd.
      "/.shim/pkgs/chrony/etc/init.d/chronyd": { content: "#!/sbin/openrc-run\n", mode: 0o755 },
    },
    calls: [
      "apk update",
      // setup-alpine skips NTP under KVM (alpine-conf setup-alpine.in: is_kvm_clock), so the node's clock is chrony's.
      // rsync: vagrant-libvirt's default synced folder, offline.
      "apk add sudo doas chrony rsync",
      "rc-update add chronyd default",
      "adduser -D -s /bin/sh -g vagrant vagrant",
      "chpasswd",
      "chown -R vagrant:vagrant /home/vagrant/.ssh",
      "visudo -c -f /etc/sudoers.d/.vagrant.new",
      "doas -C /etc/doas.d/vagrant.conf",
    ],
    owned: ["/etc/apk/repositories", "/etc/doas.d/vagrant.conf"],
  },
  {
    fam: DEBIAN,
    fresh: {},
    // sudo is there (a cloud image); rsync for vagrant-libvirt's default synced folder is not.
    calls: [
      "apt-get update",
      "apt-get install -y --no-install-recommends rsync",
      "useradd --create-home --shell /bin/bash --comment vagrant vagrant",
      "chpasswd",
      "chown -R vagrant:vagrant /home/vagrant/.ssh",
      "visudo -c -f /etc/sudoers.d/.vagrant.new",
    ],
    owned: [],
  },
];

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

const fresh = (c: BaseCase, extra: Files = {}) => familySandbox(c.fam, { ...c.fresh, "/etc/ssh/sshd_config": SSHD, ...extra });
const OWNED = ["/etc/passwd", "/home/vagrant/.ssh/authorized_keys", "/etc/sudoers.d/vagrant", "/etc/ssh/sshd_config"];

describe.each(CASES)("base step on $fam.family", (c) => {
  const base = shippedScript(c.fam.family, "base");

  it.skipIf(!canRun(c.fam))("sets up vagrant/vagrant with both insecure keys, validated passwordless sudo and UseDNS no first", async () => {
    sb = await fresh(c);
    const r = await sb.run(base);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual(c.calls);
    expect(sb.read("/.shim/chpasswd")).toBe("vagrant:vagrant\n");
    expect(sb.read("/home/vagrant/.ssh/authorized_keys")).toBe(`${RSA}\n${ED25519}\n`);
    expect(sb.mode("/home/vagrant/.ssh")).toBe(0o700);
    expect(sb.mode("/home/vagrant/.ssh/authorized_keys")).toBe(0o600);
    expect(sb.read("/etc/sudoers.d/vagrant")).toBe("Defaults:vagrant !requiretty\nvagrant ALL=(ALL) NOPASSWD: ALL\n");
    expect(sb.mode("/etc/sudoers.d/vagrant")).toBe(0o440);
    // UseDNS no comes first (sshd keeps the first value); every other UseDNS line is gone.
    expect(sb.read("/etc/ssh/sshd_config")).toBe(SSHD_AFTER);
  });

  it.skipIf(!canRun(c.fam))("is idempotent: a second run changes no file and adds no user", async () => {
    sb = await fresh(c);
    expect((await sb.run(base)).code).toBe(0);
    const before = [...OWNED, ...c.owned].map((p) => sb!.read(p));
    sb.clearCalls();
    expect((await sb.run(base)).code).toBe(0);
    expect([...OWNED, ...c.owned].map((p) => sb!.read(p))).toEqual(before);
    expect(sb.calls().filter((l) => /^(adduser|useradd) /.test(l))).toEqual([]);
  });

  it.skipIf(!canRun(c.fam))("refuses a sudoers rule that does not validate and leaves no rule behind", async () => {
    sb = await fresh(c, { "/.shim/visudo-fail": "" });
    const r = await sb.run(base);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`base-${c.fam.family}: ERROR: sudoers rule for vagrant does not validate`);
    expect(sb.exists("/etc/sudoers.d/vagrant")).toBe(false);
    expect(sb.exists("/etc/sudoers.d/.vagrant.new")).toBe(false);
  });
});

// What only one family does (its part of the step, alpine/base.sh or debian/base.sh).
describe.skipIf(!canRun(ALPINE))("base step, Alpine's part", () => {
  const alpine = CASES[0]!;
  const base = shippedScript("alpine", "base");

  it("enables the release's own community repository and writes the doas rule where doas reads it", async () => {
    sb = await fresh(alpine);
    expect((await sb.run(base)).code).toBe(0);
    expect(sb.read("/etc/apk/repositories")).toBe("http://dl-cdn.alpinelinux.org/alpine/v3.24/main\nhttp://dl-cdn.alpinelinux.org/alpine/v3.24/community\n");
    expect(sb.read("/etc/doas.d/vagrant.conf")).toBe("permit nopass vagrant\n");
    expect(sb.read("/etc/doas.d/doas.conf")).toBe("permit persist :wheel\n");
  });

  it("writes the doas rule to /etc/doas.conf when this doas has no doas.d", async () => {
    sb = await fresh({ ...alpine, fresh: { ...alpine.fresh, "/.shim/pkgs/doas/etc/doas.conf": "permit persist :wheel\n" } });
    await sb.exec(["/bb/rm", "-rf", "/.shim/pkgs/doas/etc/doas.d"]); // the older package layout
    const r = await sb.run(base);
    expect(r.code).toBe(0);
    expect(sb.read("/etc/doas.conf")).toBe("permit persist :wheel\npermit nopass vagrant\n");
    expect(sb.exists("/etc/doas.d")).toBe(false);
  });

  it("refuses to guess a community repo without an enabled main line", async () => {
    sb = await fresh(alpine, { "/etc/apk/repositories": "#http://dl-cdn.alpinelinux.org/alpine/v3.24/main\n" });
    const r = await sb.run(base);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no enabled .../main repository line");
    expect(sb.calls()).toEqual([]);
  });
});

describe.skipIf(!canRun(DEBIAN))("base step, Debian's part", () => {
  const debian = CASES[1]!;
  const base = shippedScript("debian", "base");

  it("installs sudo on a minimal image (debootstrap minbase has none)", async () => {
    sb = await fresh(debian);
    await sb.exec(["/deb/rm", "/usr/bin/sudo"]);
    const r = await sb.run(base);
    expect(r.code).toBe(0);
    expect(sb.calls().slice(0, 2)).toEqual(["apt-get update", "apt-get install -y --no-install-recommends sudo rsync"]);
  });

  it("installs nothing when the image has sudo and rsync", async () => {
    sb = await fresh(debian, { "/usr/bin/rsync": { content: "#!/deb/sh\n", mode: 0o755 } });
    const r = await sb.run(base);
    expect(r.code).toBe(0);
    expect(sb.calls().filter((l) => l.startsWith("apt-get"))).toEqual([]);
  });

  it("keeps an existing vagrant user", async () => {
    sb = await fresh(debian, { "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\nvagrant:x:1000:1000:,,,:/home/vagrant:/bin/bash\n" });
    sb.write("/home/vagrant/.profile", "");
    const r = await sb.run(base);
    expect(r.code).toBe(0);
    expect(sb.calls().filter((l) => !l.startsWith("apt-get "))).toEqual(["chpasswd", "chown -R vagrant:vagrant /home/vagrant/.ssh", "visudo -c -f /etc/sudoers.d/.vagrant.new"]);
    expect(sb.read("/etc/passwd")).toBe("root:x:0:0:root:/root:/bin/bash\nvagrant:x:1000:1000:,,,:/home/vagrant:/bin/bash\n");
  });
});
