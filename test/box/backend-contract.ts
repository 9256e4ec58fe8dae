import { createReadStream, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { BoxBackend } from "../../src/box/backend.js";
import { vagrantCatalog } from "../../src/box/catalog.js";
import { ConflictError, NotFoundError } from "../../src/box/store.js";
import { makeBox } from "./support.js";

/**
 * What every BoxBackend must do, run against a fresh, empty backend from `make`. The directory
 * store runs it (backend.test.ts); another store (an object store) runs the same suite.
 */
export function backendContract(name: string, make: () => Promise<BoxBackend>, scratch: () => string): void {
  const publish = (b: BoxBackend, file: string, box: { org: string; name: string }, version: string, extra: Record<string, unknown> = {}) =>
    b.publish(createReadStream(file), { box, version, label: file, ...extra });
  const body = async (s: Readable): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  };

  describe(`${name}: the BoxBackend contract`, () => {
    it("publishes into an old-style version (no release state = active), serves its bytes and ranges, removes it", async () => {
      const b = await make();
      const file = makeBox(scratch(), "plain", { imageBytes: 10_000 });
      const box = { org: "acme", name: "plain" };
      const r = await publish(b, file, box, "1.0.0");
      expect(r).toMatchObject({ provider: "libvirt", architecture: "amd64", replaced: false });
      expect(await b.listBoxes()).toEqual([box]);
      const c = (await b.readCatalog(box))!;
      expect(c.versions.map((v) => [v.version, v.status])).toEqual([["1.0.0", undefined]]);
      expect(vagrantCatalog(c).versions.map((v) => v.version)).toEqual(["1.0.0"]);
      const d = await b.openDownload(box, "1.0.0", "libvirt", "amd64");
      expect(d?.kind).toBe("local");
      if (d?.kind !== "local") throw new Error("expected local");
      const bytes = readFileSync(file);
      expect(d.size).toBe(bytes.length);
      expect(d.etag).toBe(`"${createHash("sha256").update(bytes).digest("hex")}"`);
      expect((await body(d.open(0, d.size - 1))).equals(bytes)).toBe(true);
      expect((await body(d.open(100, 199))).equals(bytes.subarray(100, 200))).toBe(true);
      await d.close();
      expect(await b.remove({ ...box, version: "1.0.0" })).toHaveLength(1);
      // A box that came with its first upload goes with its last.
      expect(await b.readCatalog(box)).toBeUndefined();
      await expect(b.remove({ ...box, version: "1.0.0" })).rejects.toBeInstanceOf(NotFoundError);
    });

    it("creates a box and an unreleased version on their own, announces a provider, and the upload lands in that version", async () => {
      const b = await make();
      const box = { org: "acme", name: "api" };
      await expect(b.saveVersion(box, "1.0.0", { description: "x" }, "create")).rejects.toBeInstanceOf(NotFoundError);
      const created = await b.saveBox(box, { description: "Alpine for k8s", short_description: "alpine" }, "create");
      expect(created).toMatchObject({ name: "acme/api", description: "Alpine for k8s", short_description: "alpine", versions: [] });
      expect(created.created_at).toMatch(/^\d{4}-/);
      await expect(b.saveBox(box, {}, "create")).rejects.toBeInstanceOf(ConflictError);
      // An explicitly created box exists without versions.
      expect(await b.listBoxes()).toEqual([box]);
      const v = await b.saveVersion(box, "1.0.0", { description: "first" }, "create");
      expect(v).toMatchObject({ version: "1.0.0", status: "unreleased", description: "first", providers: [] });
      await expect(b.saveVersion(box, "1.0.0", {}, "create")).rejects.toBeInstanceOf(ConflictError);
      await expect(b.saveVersion(box, "9.9.9", {}, "update")).rejects.toBeInstanceOf(NotFoundError);
      await b.saveVersion(box, "1.0.0", { addPending: { name: "libvirt", architecture: "amd64", created_at: new Date().toISOString() } }, "update");
      expect((await b.readCatalog(box))!.versions[0]!.pending_providers).toMatchObject([{ name: "libvirt", architecture: "amd64" }]);

      const file = makeBox(scratch(), "api");
      const seen: string[] = [];
      await publish(b, file, box, "1.0.0", { provider: "libvirt", architecture: "amd64", beforeCommit: (x: { provider: string }) => void seen.push(x.provider) });
      expect(seen).toEqual(["libvirt"]);
      let c = (await b.readCatalog(box))!;
      expect(c.versions[0]).toMatchObject({ status: "unreleased", description: "first", providers: [{ name: "libvirt" }] });
      expect(c.versions[0]!.pending_providers).toBeUndefined();
      // Unreleased: not in what Vagrant reads.
      expect(vagrantCatalog(c).versions).toEqual([]);
      await b.saveVersion(box, "1.0.0", { status: "active" }, "update");
      expect(vagrantCatalog((await b.readCatalog(box))!).versions.map((v) => v.version)).toEqual(["1.0.0"]);
      await b.saveVersion(box, "1.0.0", { status: "revoked", revoked_reason: "CVE-2026-1234 in openssl" }, "update");
      c = (await b.readCatalog(box))!;
      expect(c.versions[0]).toMatchObject({ status: "revoked", revoked_reason: "CVE-2026-1234 in openssl" });
      expect(vagrantCatalog(c).versions).toEqual([]);
      const d = await b.openDownload(box, "1.0.0", "libvirt", "amd64");
      expect(d?.version.status).toBe("revoked");
      if (d?.kind === "local") await d.close();
      await b.saveVersion(box, "1.0.0", { status: "active", revoked_reason: null }, "update");
      expect((await b.readCatalog(box))!.versions[0]!.revoked_reason).toBeUndefined();

      // Removing the last provider of an explicitly created version keeps the version and the box.
      await b.remove({ ...box, version: "1.0.0", provider: "libvirt" });
      expect((await b.readCatalog(box))!.versions).toMatchObject([{ version: "1.0.0", providers: [] }]);
      await b.remove({ ...box, version: "1.0.0" });
      expect((await b.readCatalog(box))!.versions).toEqual([]);
      await b.removeBox(box);
      expect(await b.readCatalog(box)).toBeUndefined();
      expect(await b.listBoxes()).toEqual([]);
      await expect(b.removeBox(box)).rejects.toBeInstanceOf(NotFoundError);
    });

    it("a beforeCommit that throws publishes nothing", async () => {
      const b = await make();
      const box = { org: "acme", name: "refused" };
      const file = makeBox(scratch(), "refused");
      await expect(publish(b, file, box, "1.0.0", { beforeCommit: () => { throw new ConflictError("no"); } })).rejects.toBeInstanceOf(ConflictError);
      expect(await b.readCatalog(box)).toBeUndefined();
      expect(await b.openDownload(box, "1.0.0", "libvirt", "amd64")).toBeUndefined();
    });

    it("an upload that creates its version with status unreleased keeps it out of Vagrant's catalog", async () => {
      const b = await make();
      const box = { org: "acme", name: "staged" };
      await publish(b, makeBox(scratch(), "staged"), box, "2.0.0", { status: "unreleased" });
      const c = (await b.readCatalog(box))!;
      expect(c.versions[0]!.status).toBe("unreleased");
      expect(vagrantCatalog(c).versions).toEqual([]);
    });

    it("concurrent version changes to one box all survive", async () => {
      const b = await make();
      const box = { org: "acme", name: "busy" };
      await b.saveBox(box, {}, "create");
      await Promise.all(["1.0.0", "1.1.0", "1.2.0", "1.3.0", "2.0.0"].map((v) => b.saveVersion(box, v, { description: v }, "create")));
      expect((await b.readCatalog(box))!.versions.map((v) => v.description)).toEqual(["1.0.0", "1.1.0", "1.2.0", "1.3.0", "2.0.0"]);
    });
  });
}
