import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCatalog, vagrantCatalog } from "../../src/box/catalog.js";
import { BoxStore } from "../../src/box/store.js";
import { backendContract } from "./backend-contract.js";
import { tempDir } from "./support.js";

const tmp = tempDir();
afterAll(tmp.cleanup);
let n = 0;
const fresh = (): string => {
  const dir = join(tmp.path, `s${n++}`);
  mkdirSync(dir);
  return dir;
};

backendContract("directory store", () => BoxStore.open(fresh()), fresh);

describe("catalog release states on disk", () => {
  it("a catalog written before release states reads as all active, and Vagrant's view keeps every version", () => {
    // The shape `homelab box publish` wrote before this change (no status, description or timestamps).
    const old = {
      name: "acme/old",
      description: "",
      versions: [{ version: "1.0.0", providers: [{ name: "libvirt", url: "1.0.0/libvirt-amd64.box", checksum_type: "sha256", checksum: "a".repeat(64), architecture: "amd64", default_architecture: true, size: 1 }] }],
    };
    const c = parseCatalog(JSON.stringify(old), "catalog.json");
    expect(c.versions[0]!.status).toBeUndefined();
    expect(vagrantCatalog(c)).toEqual(old);
  });

  it("refuses an unknown release state rather than guessing", () => {
    const bad = { name: "a/b", description: "", versions: [{ version: "1.0.0", status: "gone", providers: [] }] };
    expect(() => parseCatalog(JSON.stringify(bad), "x/catalog.json")).toThrow(/status must be one of unreleased, active, revoked/);
  });

  it("persists status, description and revoked reason in catalog.json", async () => {
    const root = fresh();
    const store = await BoxStore.open(root);
    const box = { org: "acme", name: "kept" };
    await store.saveBox(box, { description: "d" }, "create");
    await store.saveVersion(box, "1.0.0", { description: "v1", status: "revoked", revoked_reason: "broken" }, "create");
    const file = join(root, "acme", "kept", "catalog.json");
    const onDisk = JSON.parse(readFileSync(file, "utf8")) as { versions: Record<string, unknown>[] };
    expect(onDisk.versions[0]).toMatchObject({ version: "1.0.0", status: "revoked", description: "v1", revoked_reason: "broken" });
    // A user's file beside the catalog survives removing the box.
    writeFileSync(join(root, "acme", "kept", "NOTES.txt"), "mine");
    await store.removeBox(box);
    expect(readFileSync(join(root, "acme", "kept", "NOTES.txt"), "utf8")).toBe("mine");
  });
});
