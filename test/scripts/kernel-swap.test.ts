import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { ALPINE, DEBIAN, FAMILIES, MOUNTINFO, type FamilyUserland } from "../support/shims.js";

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

const SYSCTLS = [
  "net.bridge.bridge-nf-call-iptables = 1",
  "net.bridge.bridge-nf-call-ip6tables = 1",
  "net.ipv4.ip_forward = 1",
  "fs.inotify.max_user_instances = 8192",
  "fs.inotify.max_user_watches = 524288",
];

interface KernelCase {
  fam: FamilyUserland;
  /** What makes / rshared at every boot, when the family's init does not (or did not). */
  atBoot: { calls: string[]; file: string; says: RegExp };
}

const KERNEL: KernelCase[] = [
  // Its own service, ordered before the services that need it (`local` would run after them all).
  { fam: ALPINE, atBoot: { calls: ["rc-update add k8s-rshared default"], file: "/etc/init.d/k8s-rshared", says: /^#!\/sbin\/openrc-run\n[\s\S]*^\s*before containerd kubelet k3s$/m } },
  {
    fam: DEBIAN,
    atBoot: { calls: ["systemctl daemon-reload", "systemctl enable k8s-rshared.service"], file: "/etc/systemd/system/k8s-rshared.service", says: /ExecStart=\/bin\/mount --make-rshared \/\n/ },
  },
];

describe.each(KERNEL)("k8s-kernel on $fam.family", (c) => {
  const kernel = shippedScript(c.fam.family, "k8s-kernel");

  it.skipIf(!canRun(c.fam))("persists modules and sysctls, loads and applies them (sysctl -p: BusyBox has no --system)", async () => {
    sb = await familySandbox(c.fam);
    const r = await sb.run(kernel);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.calls().slice(0, 3)).toEqual(["modprobe overlay", "modprobe br_netfilter", "sysctl -p /etc/sysctl.d/99-k8s.conf"]);
    expect(sb.read("/etc/modules-load.d/k8s.conf")).toBe("overlay\nbr_netfilter\n");
    expect(sb.read("/etc/sysctl.d/99-k8s.conf")).toBe(`${SYSCTLS.join("\n")}\n`);
    expect(sb.read("/proc/sys/net/ipv4/ip_forward")).toBe("1\n");
    expect(sb.exists("/sys/module/br_netfilter")).toBe(true);
  });

  it.skipIf(!canRun(c.fam))("makes a private root rshared now and at every boot", async () => {
    sb = await familySandbox(c.fam, { "/proc/self/mountinfo": MOUNTINFO.private });
    const r = await sb.run(kernel);
    expect(r.code).toBe(0);
    expect(sb.calls().slice(3)).toEqual([...c.atBoot.calls, "mount --make-rshared /"]);
    expect(sb.read(c.atBoot.file)).toMatch(c.atBoot.says);
    expect(sb.read("/proc/self/mountinfo")).toContain(" / / rw,relatime shared:1 - ");
  });

  it.skipIf(!canRun(c.fam))("stops when a module cannot be loaded, before applying sysctls", async () => {
    sb = await familySandbox(c.fam);
    sb.shim("modprobe", `[ "$1" = br_netfilter ] && { echo "modprobe: module br_netfilter not found" >&2; exit 1; }; exit 0`);
    const r = await sb.run(kernel);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("br_netfilter not found");
    expect(sb.callsOf("sysctl")).toEqual([]);
  });
});

describe.skipIf(!canRun(ALPINE))("k8s-kernel, Alpine's part", () => {
  it("boots with the unified cgroup v2 hierarchy: rc_cgroup_mode=\"unified\" in rc.conf, the other settings kept", async () => {
    sb = await familySandbox(ALPINE);
    expect((await sb.run(shippedScript("alpine", "k8s-kernel"))).code).toBe(0);
    expect(sb.read("/etc/rc.conf")).toBe('#rc_parallel="NO"\nrc_cgroup_mode="unified"\n#rc_cgroup_controllers=""\n');
    // A set mode is replaced, and a second run changes nothing.
    sb.write("/etc/rc.conf", 'rc_parallel="YES"\nrc_cgroup_mode="hybrid"\n');
    expect((await sb.run(shippedScript("alpine", "k8s-kernel"))).code).toBe(0);
    expect((await sb.run(shippedScript("alpine", "k8s-kernel"))).code).toBe(0);
    expect(sb.read("/etc/rc.conf")).toBe('rc_parallel="YES"\nrc_cgroup_mode="unified"\n');
  });

  it("the boot-time service makes a private root rshared when OpenRC starts it", async () => {
    sb = await familySandbox(ALPINE, { "/proc/self/mountinfo": MOUNTINFO.private });
    expect((await sb.run(shippedScript("alpine", "k8s-kernel"))).code).toBe(0);
    // The next boot: / private again until the service runs.
    sb.write("/proc/self/mountinfo", MOUNTINFO.private);
    sb.clearCalls();
    const r = await sb.exec(["rc-service", "k8s-rshared", "start"]);
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual(["rc-service k8s-rshared start", "mount --make-rshared /"]);
    expect(sb.read("/proc/self/mountinfo")).toContain(" / / rw,relatime shared:1 - ");
  });
});

describe.skipIf(!canRun(DEBIAN))("k8s-kernel, Debian's part", () => {
  it("leaves a root systemd already shares alone", async () => {
    sb = await familySandbox(DEBIAN, { "/proc/self/mountinfo": MOUNTINFO.shared });
    const r = await sb.run(shippedScript("debian", "k8s-kernel"));
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual(["modprobe overlay", "modprobe br_netfilter", "sysctl -p /etc/sysctl.d/99-k8s.conf"]);
    expect(sb.exists("/etc/systemd/system/k8s-rshared.service")).toBe(false);
    expect(r.stdout).toContain("/ is already shared:1");
  });
});

const FSTAB = [
  "# /etc/fstab: static file system information.",
  "UUID=1111 / ext4 rw,relatime 0 1",
  "UUID=3333 none swap sw 0 0",
  "/swapfile\tnone\tswap\tdefaults\t0 0",
  "# UUID=4444 none swap sw 0 0",
  "/dev/vdb /srv/swap-archive ext4 defaults 0 2",
  "",
].join("\n");
const FSTAB_AFTER = ["# /etc/fstab: static file system information.", "UUID=1111 / ext4 rw,relatime 0 1", "# UUID=4444 none swap sw 0 0", "/dev/vdb /srv/swap-archive ext4 defaults 0 2", ""].join("\n");

describe.each(FAMILIES)("k8s-swap on $family", (fam) => {
  const swap = shippedScript(fam.family, "k8s-swap");

  it.skipIf(!canRun(fam))("turns swap off and removes only real swap entries from fstab", async () => {
    sb = await familySandbox(fam, { "/etc/fstab": FSTAB, "/proc/swaps": "Filename\tType\tSize\tUsed\tPriority\n/dev/vda2 partition 1048572 0 -2\n" });
    const r = await sb.run(swap);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sb.callsOf("swapoff")).toEqual(["swapoff -a"]);
    expect(sb.read("/etc/fstab")).toBe(FSTAB_AFTER);
    expect(sb.mode("/etc/fstab")).toBe(0o644);
    expect(sb.read("/proc/swaps").split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.stdout).toContain("removed 2 swap entries");
  });

  it.skipIf(!canRun(fam))("fails when swapoff fails (swap would stay on), leaving fstab alone", async () => {
    sb = await familySandbox(fam, { "/etc/fstab": "UUID=3 none swap sw 0 0\n" });
    sb.shim("swapoff", "echo 'swapoff: /dev/vda2: Cannot allocate memory' >&2; exit 1");
    const r = await sb.run(swap);
    expect(r.code).not.toBe(0);
    expect(sb.read("/etc/fstab")).toBe("UUID=3 none swap sw 0 0\n");
  });
});

describe.skipIf(!canRun(DEBIAN))("k8s-swap, Debian's part: systemd swap units", () => {
  const swap = shippedScript("debian", "k8s-swap");

  it("lists the active swap units before swapoff and masks them", async () => {
    sb = await familySandbox(DEBIAN, { "/etc/fstab": FSTAB, "/.shim/swap-units": "dev-vda2.swap\nswapfile.swap\ndev-disk-by\\x2duuid-1234.swap\n" });
    const r = await sb.run(swap);
    expect(r.code).toBe(0);
    expect(sb.calls()).toEqual([
      "systemctl list-units --type=swap --state=active --no-legend --plain",
      "swapoff -a",
      "systemctl mask dev-vda2.swap",
      "systemctl mask swapfile.swap",
      "systemctl mask dev-disk-by\\x2duuid-1234.swap",
      "systemctl daemon-reload",
    ]);
    const state = await sb.exec(["/deb/sh", "-c", "systemctl is-enabled swapfile.swap"]);
    expect(state.stdout).toBe("masked\n");
    expect(r.stdout).toContain("masked 3 active swap unit(s)");
  });

  it("masks nothing when no swap unit is active", async () => {
    sb = await familySandbox(DEBIAN, { "/etc/fstab": "LABEL=root / ext4 defaults 0 1\n" });
    const r = await sb.run(swap);
    expect(r.code).toBe(0);
    expect(sb.callsOf("systemctl")).toEqual(["systemctl list-units --type=swap --state=active --no-legend --plain", "systemctl daemon-reload"]);
    expect(sb.read("/etc/fstab")).toBe("LABEL=root / ext4 defaults 0 1\n");
  });
});
