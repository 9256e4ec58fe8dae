/**
 * The private libvirt the VM end-to-end test runs in (test/support/libvirt-netns.ts): what it sets
 * up exists only inside its own network namespace, it refuses to start beside another one, and
 * its teardown leaves nothing running and nothing defined. About 30 s; no VM is booted.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LibvirtNetns, MANAGEMENT_NETWORK, MANAGEMENT_SUBNET, sh, STORAGE_POOL } from "../support/libvirt-netns.js";
import { needTool } from "../support/tools.js";

const ready = ["ip", "virsh", "libvirtd", "virtlogd", "dnsmasq"].map((t) => needTool(t)).every(Boolean);
const NAME = `homelab-e2e-t${process.pid}`;

const namespaces = async () => (await sh("ip", ["netns", "list"])).output.split("\n").map((l) => l.split(" ")[0]);
const pidsIn = async (name: string) => (await sh("ip", ["netns", "pids", name])).output.split("\n").filter((l) => l.trim() !== "");

describe.skipIf(!ready)("a private libvirt inside a network namespace", () => {
  const dir = mkdtempSync(join(tmpdir(), "homelab-netns-"));
  chmodSync(dir, 0o711); // qemu (user libvirt-qemu) must reach the pool below it
  let lv: LibvirtNetns | undefined;
  afterAll(async () => {
    await lv?.stop();
  });

  it("a setup that fails half-way (a pool qemu could not reach) undoes what it had started", async () => {
    const closed = join(dir, "closed");
    mkdirSync(closed, { mode: 0o700 });
    await expect(LibvirtNetns.start({ name: NAME, dir: join(closed, "lv") })).rejects.toThrow(/could not reach the pool/);
    expect(await namespaces()).not.toContain(NAME);
    expect((await sh("virsh", ["-c", "qemu:///system", "version"])).code).not.toBe(0);
  }, 120_000);

  it("starts libvirtd inside the namespace with the management network and pool; the host gets no address", async () => {
    lv = await LibvirtNetns.start({ name: NAME, dir: join(dir, "a") });
    expect(await namespaces()).toContain(NAME);
    expect(await lv.addresses()).toMatch(new RegExp(`inet ${MANAGEMENT_SUBNET.replace(/\./g, "\\.")}\\.1/24`));
    expect((await sh("ip", ["-4", "-o", "addr", "show"])).output).not.toContain(`${MANAGEMENT_SUBNET}.`);
    expect(await lv.newObjects()).toEqual({ domains: [], networks: [MANAGEMENT_NETWORK], pools: [STORAGE_POOL] });
    // Transient: nothing is written into libvirt's configuration.
    expect((await lv.virsh(["net-info", MANAGEMENT_NETWORK])).output).toMatch(/^Persistent:\s+no$/m);
    expect((await lv.virsh(["pool-info", STORAGE_POOL])).output).toMatch(/^Persistent:\s+no$/m);
    // libvirtd, virtlogd and the network's dnsmasq all run inside the namespace.
    const inside = await pidsIn(NAME);
    expect(inside.length).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it("refuses a namespace name that is taken, and leaves the running one alone", async () => {
    await expect(LibvirtNetns.start({ name: NAME, dir: join(dir, "b") })).rejects.toThrow(new RegExp(`namespace '${NAME}' already exists`));
    expect((await lv!.virsh(["version"])).code).toBe(0);
    expect(await namespaces()).toContain(NAME);
  }, 60_000);

  it("refuses to start beside a libvirtd that already answers, creating nothing", async () => {
    const other = `${NAME}-2`;
    await expect(LibvirtNetns.start({ name: other, dir: join(dir, "c") })).rejects.toThrow(/a libvirtd already answers/);
    expect(await namespaces()).not.toContain(other);
    expect((await lv!.virsh(["version"])).code).toBe(0);
  }, 60_000);

  it("stops everything it started: no process, no network, no pool, no namespace; twice is harmless", async () => {
    const pids = (await pidsIn(NAME)).map(Number);
    expect(await lv!.stop()).toEqual([]);
    expect(await lv!.stop()).toEqual([]);
    expect(await namespaces()).not.toContain(NAME);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect((await sh("virsh", ["-c", "qemu:///system", "version"])).code).not.toBe(0);
    // The run's own files stay for reading after a failure (logs, the pool's directory).
    expect(readdirSync(join(dir, "a"))).toEqual(expect.arrayContaining(["libvirtd.log", "pool"]));
  }, 120_000);
});
