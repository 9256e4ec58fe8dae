import { afterEach, describe, expect, it } from "vitest";
import { DEBIAN_BASE_FILES, DEBIAN_SHIMS } from "../../support/debian-shims.js";
import { Sandbox } from "../../support/sandbox.js";
import { needTool } from "../../support/tools.js";

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

const debianNode = (files: Record<string, string> = {}) =>
  Sandbox.create({ userland: "debian", shims: DEBIAN_SHIMS, files: { ...DEBIAN_BASE_FILES, ...files } });

describe.skipIf(!(needTool("bwrap") && needTool("dash")))("the Debian sandbox", () => {
  it("runs scripts under dash with GNU tools and mawk, and nothing else of the host", async () => {
    sb = await debianNode();
    sb.write("/etc/probe.sh", 'for c in sh awk apt-get systemctl; do command -v $c; done; awk -W version 2>&1 | head -n 1 | cut -c1-4; command -v wget || echo "no wget"\n');
    const r = await sb.exec(["/deb/sh", "/etc/probe.sh"]);
    expect(r.stdout).toBe("/deb/sh\n/deb/awk\n/shims/apt-get\n/shims/systemctl\nmawk\nno wget\n");
  });
});

describe.skipIf(!(needTool("bwrap") && needTool("dash")))("debian/k8s-kernel.sh", () => {
  it("writes modules-load.d and sysctl.d, loads the modules, applies the file, leaves a shared root alone", async () => {
    sb = await debianNode();
    const r = await sb.run("debian/k8s-kernel.sh");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.read("/etc/modules-load.d/k8s.conf")).toBe("overlay\nbr_netfilter\n");
    expect(sb.read("/etc/sysctl.d/99-k8s.conf")).toContain("net.bridge.bridge-nf-call-iptables = 1\n");
    expect(sb.read("/etc/sysctl.d/99-k8s.conf").split("\n").filter(Boolean)).toHaveLength(5);
    expect(sb.calls()).toEqual([
      "modprobe overlay",
      "modprobe br_netfilter",
      "sysctl -p /etc/sysctl.d/99-k8s.conf",
      "findmnt -n -o PROPAGATION /",
    ]);
    expect(sb.exists("/etc/systemd/system/k8s-rshared.service")).toBe(false);
  });

  it("makes a private root rshared now and at boot with a oneshot unit", async () => {
    sb = await debianNode({ "/.shim/root-propagation": "private\n" });
    const r = await sb.run("debian/k8s-kernel.sh");
    expect(r.code).toBe(0);
    expect(sb.calls().slice(3)).toEqual([
      "findmnt -n -o PROPAGATION /",
      "systemctl daemon-reload",
      "systemctl enable k8s-rshared.service",
      "mount --make-rshared /",
    ]);
    expect(sb.read("/etc/systemd/system/k8s-rshared.service")).toContain("ExecStart=/bin/mount --make-rshared /\n");
    expect(sb.read("/.shim/enabled")).toBe("k8s-rshared.service\n");
  });
});

describe.skipIf(!(needTool("bwrap") && needTool("dash")))("debian/k8s-swap.sh", () => {
  const fstab = [
    "LABEL=root / ext4 defaults 0 1",
    "# /dev/vda2 none swap sw 0 0",
    "/dev/vda2 none swap sw 0 0",
    "/swapfile none swap defaults 0 0",
    "/dev/vdb1 /srv/swapdata ext4 defaults 0 2",
    "",
  ].join("\n");

  it("lists the active swap units before swapoff, removes fstab swap lines, masks the units", async () => {
    sb = await debianNode({ "/etc/fstab": fstab, "/.shim/swap-units": "dev-vda2.swap\nswapfile.swap\ndev-disk-by\\x2duuid-1234.swap\n" });
    const r = await sb.run("debian/k8s-swap.sh");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual([
      "systemctl list-units --type=swap --state=active --no-legend --plain",
      "swapoff -a",
      "systemctl mask dev-vda2.swap",
      "systemctl mask swapfile.swap",
      "systemctl mask dev-disk-by\\x2duuid-1234.swap",
      "systemctl daemon-reload",
    ]);
    expect(sb.read("/etc/fstab")).toBe("LABEL=root / ext4 defaults 0 1\n# /dev/vda2 none swap sw 0 0\n/dev/vdb1 /srv/swapdata ext4 defaults 0 2\n");
    expect(sb.mode("/etc/fstab")).toBe(0o644);
    expect(sb.path("/etc/systemd/system/swapfile.swap")).toBeTruthy();
    const r2 = await sb.exec(["/deb/sh", "-c", "systemctl is-enabled swapfile.swap"]);
    expect(r2.stdout).toBe("masked\n");
    expect(r.stdout).toContain("removed 2 swap entries");
    expect(r.stdout).toContain("masked 3 active swap unit(s)");
  });

  it("masks nothing and keeps fstab when there is no swap", async () => {
    sb = await debianNode({ "/etc/fstab": "LABEL=root / ext4 defaults 0 1\n" });
    const r = await sb.run("debian/k8s-swap.sh");
    expect(r.code).toBe(0);
    expect(sb.callsOf("systemctl")).toEqual(["systemctl list-units --type=swap --state=active --no-legend --plain", "systemctl daemon-reload"]);
    expect(sb.read("/etc/fstab")).toBe("LABEL=root / ext4 defaults 0 1\n");
  });
});
