import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCatalog, upsertProvider, emptyCatalog, removeProviders } from "../../src/box/catalog.js";
import { compareVersions } from "../../src/semver.js";
import { listRegistry, publishBox, removeFromRegistry } from "../../src/box/publish.js";
import { BoxStore, ConflictError, NotFoundError } from "../../src/box/store.js";
import { InputError } from "../../src/errors.js";
import { CLI, makeBox, runCli, tempDir } from "./support.js";

const tmp = tempDir();
afterAll(tmp.cleanup);
const sha256 = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("catalog model", () => {
  it("orders versions semantically, not as text", () => {
    const vs = ["1.10.0", "1.2.0", "10.0.0", "1.9.12", "2.0.0", "0.0.1"];
    expect([...vs].sort(compareVersions)).toEqual(["0.0.1", "1.2.0", "1.9.12", "1.10.0", "2.0.0", "10.0.0"]);
  });

  it("keeps one default architecture per provider, listed last (the entry Vagrant 2.3 keeps)", () => {
    const e = (architecture: "amd64" | "arm64") => ({ name: "libvirt", url: "x", checksum_type: "sha256" as const, checksum: "a".repeat(64), architecture, size: 1 });
    let c = upsertProvider(emptyCatalog("o/b"), "1.0.0", e("amd64"));
    c = upsertProvider(c, "1.0.0", e("arm64"));
    expect(c.versions[0]!.providers.map((p) => [p.architecture, p.default_architecture])).toEqual([["arm64", false], ["amd64", true]]);
    c = upsertProvider(c, "1.0.0", e("arm64"), true);
    expect(c.versions[0]!.providers.map((p) => [p.architecture, p.default_architecture])).toEqual([["amd64", false], ["arm64", true]]);
    // Removing the default promotes the remaining one.
    const { catalog } = removeProviders(c, "1.0.0", "libvirt", "arm64");
    expect(catalog.versions[0]!.providers).toMatchObject([{ architecture: "amd64", default_architecture: true }]);
  });
});

describe("directory store", () => {
  it("publishes, refuses a duplicate unless forced, lists and removes", async () => {
    const reg = join(tmp.path, "reg1");
    const a = makeBox(tmp.path, "a");
    const b = makeBox(tmp.path, "b");
    const r1 = await publishBox({ file: a, name: "acme/node", version: "1.2.0", registry: reg });
    expect(r1).toMatchObject({ box: "acme/node", version: "1.2.0", provider: "libvirt", architecture: "amd64", checksum: sha256(a), replaced: false });
    const dup = await publishBox({ file: b, name: "acme/node", version: "1.2.0", provider: "libvirt", registry: reg }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ConflictError);
    expect((dup as ConflictError).exitCode).toBe(1);
    expect(readdirSync(join(reg, ".incoming"))).toEqual([]);
    const forced = await publishBox({ file: b, name: "acme/node", version: "1.2.0", registry: reg, force: true });
    expect(forced).toMatchObject({ replaced: true, checksum: sha256(b) });
    // Box files are named by their content; the replaced one is gone.
    expect(readdirSync(join(reg, "acme/node/1.2.0"))).toEqual([`libvirt-amd64-${sha256(b)}.box`]);
    expect(sha256(join(reg, `acme/node/1.2.0/libvirt-amd64-${sha256(b)}.box`))).toBe(sha256(b));
    await publishBox({ file: a, name: "acme/node", version: "1.10.0", architecture: "aarch64", registry: reg });

    const [catalog] = await listRegistry(reg, "acme/node");
    expect(catalog!.name).toBe("acme/node");
    expect(catalog!.versions.map((v) => v.version)).toEqual(["1.2.0", "1.10.0"]);
    expect(catalog!.versions[1]!.providers[0]).toMatchObject({ architecture: "arm64", checksum_type: "sha256", size: statSync(a).size });

    const removed = await removeFromRegistry(reg, { org: "acme", name: "node", version: "1.2.0" });
    expect(removed).toHaveLength(1);
    expect(existsSync(join(reg, "acme/node/1.2.0"))).toBe(false);
    await expect(removeFromRegistry(reg, { org: "acme", name: "node", version: "1.2.0" })).rejects.toBeInstanceOf(NotFoundError);
    expect((await listRegistry(reg))[0]!.versions.map((v) => v.version)).toEqual(["1.10.0"]);
  });

  it("rejects bad names and a box that is not a box, leaving nothing behind", async () => {
    const reg = join(tmp.path, "reg2");
    const a = makeBox(tmp.path, "c");
    await expect(publishBox({ file: a, name: "Acme/../x", version: "1.0.0", registry: reg })).rejects.toBeInstanceOf(InputError);
    await expect(publishBox({ file: a, name: "acme/x", version: "1.0", registry: reg })).rejects.toBeInstanceOf(InputError);
    await expect(publishBox({ file: a, name: "acme/x", version: "1.0.0", provider: "virtualbox", registry: reg })).rejects.toThrow(/says provider "libvirt"/);
    const notBox = makeBox(tmp.path, "nometa", { metadata: null });
    await expect(publishBox({ file: notBox, name: "acme/x", version: "1.0.0", registry: reg })).rejects.toThrow(/no metadata\.json/);
    expect(readdirSync(join(reg, ".incoming"))).toEqual([]);
    expect(existsSync(join(reg, "acme/x/catalog.json"))).toBe(false);
  });

  it("refuses to follow a symlink planted in the root (no directory is created outside)", async () => {
    const reg = join(tmp.path, "reg3");
    const outside = join(tmp.path, "outside3");
    mkdirSync(reg);
    mkdirSync(outside);
    symlinkSync(outside, join(reg, "evil"));
    await expect(publishBox({ file: makeBox(tmp.path, "d"), name: "evil/box", version: "1.0.0", registry: reg })).rejects.toThrow(/symlink/);
    expect(readdirSync(outside)).toEqual([]);
    const store = await BoxStore.open(reg);
    expect(await store.readCatalog({ org: "evil", name: "box" }).catch(() => "refused")).not.toMatchObject({ name: "evil/box" });
  });

  it("20 concurrent publishes (separate processes) of different versions all land", async () => {
    const reg = join(tmp.path, "reg4");
    const boxes = Array.from({ length: 20 }, (_, i) => makeBox(tmp.path, `conc${i}`, { imageBytes: 64 * 1024 }));
    const results = await Promise.all(boxes.map((file, i) => runCli(["box", "publish", file, "--name", "acme/conc", "--version", `1.${i}.0`, "--registry", reg])));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    const text = readFileSync(join(reg, "acme/conc/catalog.json"), "utf8");
    const catalog = parseCatalog(text, "catalog.json"); // valid JSON, valid catalog
    expect(catalog.versions.map((v) => v.version)).toEqual(Array.from({ length: 20 }, (_, i) => `1.${i}.0`));
    for (const [i, v] of catalog.versions.entries()) {
      const p = v.providers[0]!;
      expect(p.checksum).toBe(sha256(boxes[i]!));
      expect(sha256(join(reg, "acme/conc", p.url))).toBe(p.checksum);
    }
    expect(readdirSync(join(reg, ".incoming"))).toEqual([]);
    expect(existsSync(join(reg, "acme/conc/.lock"))).toBe(false);
  });

  it("20 concurrent publishes in one process contend on the lock and all land", async () => {
    const reg = join(tmp.path, "reg5");
    const box = makeBox(tmp.path, "same");
    await Promise.all(Array.from({ length: 20 }, (_, i) => publishBox({ file: box, name: "acme/par", version: `2.0.${i}`, registry: reg })));
    const [catalog] = await listRegistry(reg, "acme/par");
    expect(catalog!.versions).toHaveLength(20);
  });

  it("a publish killed mid-copy leaves the catalog unchanged and no partial box; the next publish sweeps its leftovers", async () => {
    const reg = join(tmp.path, "reg6");
    await publishBox({ file: makeBox(tmp.path, "base"), name: "acme/kill", version: "1.0.0", registry: reg });
    const catalogBefore = readFileSync(join(reg, "acme/kill/catalog.json"));
    const big = makeBox(tmp.path, "kill", { imageBytes: 8 << 20 });
    // A FIFO as the source: the test decides how much the publisher has read when it is killed.
    const fifo = join(tmp.path, "kill.fifo");
    execFileSync("mkfifo", [fifo]);
    const child = spawn(process.execPath, [CLI, "box", "publish", fifo, "--name", "acme/kill", "--version", "2.0.0", "--registry", reg], { stdio: "ignore" });
    const fd = openSync(fifo, "w");
    const bytes = readFileSync(big);
    writeSync(fd, bytes, 0, 4 << 20);
    await waitFor(() => {
      const files = existsSync(join(reg, ".incoming")) ? readdirSync(join(reg, ".incoming")) : [];
      return files.length === 1 && statSync(join(reg, ".incoming", files[0]!)).size > 1 << 20;
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    closeSync(fd);
    expect(readFileSync(join(reg, "acme/kill/catalog.json"))).toEqual(catalogBefore);
    expect(existsSync(join(reg, "acme/kill/2.0.0"))).toBe(false);
    expect(readdirSync(join(reg, ".incoming"))).toHaveLength(1); // the dead process's temp file, hidden
    const store = await BoxStore.open(reg);
    expect(await store.openBox({ org: "acme", name: "kill" }, "2.0.0", "libvirt", "amd64")).toBeUndefined();
    await publishBox({ file: big, name: "acme/kill", version: "2.0.0", registry: reg });
    expect(readdirSync(join(reg, ".incoming"))).toEqual([]);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
