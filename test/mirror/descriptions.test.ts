import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { BoxStore } from "../../src/box/store.js";
import { listRegistry } from "../../src/box/publish.js";
import { startRegistryServer } from "../../src/box/server.js";
import { summaryText } from "../../src/cli/mirror-progress.js";
import { mirrorBoxes, type MirrorOptions } from "../../src/mirror/mirror.js";
import { VAGRANT_CATALOG } from "../fixtures/mirror/recorded.js";
import { makeBox, tempDir, WRITE_TOKEN } from "../box/support.js";
import { MirrorSource, type SourceFileSpec } from "../support/mirror-source.js";

/**
 * `homelab box mirror` carries a box's description and short description and each version's
 * description into the target, from the HCP API's shape (short_description,
 * description_markdown) and from a plain catalog (description), into a registry directory and
 * into `box serve` over Vagrant's API; copies only released versions and says what it left out;
 * and never overwrites a description the target already has.
 */
describe("box mirror: descriptions and release state", () => {
  const tmp = tempDir("homelab-mirror-text-");
  let source: MirrorSource;
  let n = 0;
  const box = (name: string, provider = "libvirt"): Buffer => readFileSync(makeBox(tmp.path, `${name}-${n++}`, { provider, imageBytes: 32 << 10 }));
  const run = (o: Partial<MirrorOptions> & Pick<MirrorOptions, "sources" | "registry">) =>
    mirrorBoxes({ api: source.api, jobs: 2, retryDelayMs: 10, workDir: join(tmp.path, `work-${n++}`), ...o });

  beforeEach(async () => {
    source = await MirrorSource.start();
  });
  afterEach(async () => {
    await source.close();
  });
  afterAll(() => tmp.cleanup());

  /** acme/node: 1.0.0 (recorded version text), 1.1.0 (its own text), 1.2.0 unreleased, 0.9.0 revoked. */
  function node(): SourceFileSpec[] {
    const specs: SourceFileSpec[] = [
      { org: "acme", box: "node", version: "0.9.0", provider: "libvirt", arch: "amd64", checksumType: "sha256", status: "revoked", body: box("revoked") },
      { org: "acme", box: "node", version: "1.0.0", provider: "libvirt", arch: "amd64", checksumType: "sha256", body: box("a") },
      { org: "acme", box: "node", version: "1.1.0", provider: "libvirt", arch: "amd64", checksumType: "sha1", versionDescription: "Kernel 6.12, containerd 2.1", body: box("b") },
      { org: "acme", box: "node", version: "1.1.0", provider: "virtualbox", arch: "amd64", checksumType: "md5", versionDescription: "Kernel 6.12, containerd 2.1", body: box("c", "virtualbox") },
      { org: "acme", box: "node", version: "1.2.0", provider: "libvirt", arch: "amd64", checksumType: "sha256", status: "unreleased", versionDescription: "not yet", body: box("d") },
    ];
    for (const s of specs) source.add(s);
    source.boxText.set("acme/node", { short: "A Kubernetes node", markdown: "Debian 12 with **containerd**, built by homelab." });
    return specs;
  }

  it("HCP API → registry directory: box and version descriptions arrive; unreleased and revoked versions are left out, and the summary says why", async () => {
    node();
    const target = join(tmp.path, "dir-target");
    const summary = await run({ sources: ["acme/node"], registry: target });
    expect(summary.failed.count).toBe(0);
    expect(summary.copied.count).toBe(3);
    expect(summary.notes.map((x) => `${x.version}: ${x.why}`).sort()).toEqual(['0.9.0: not released at the source (status "revoked")', '1.2.0: not released at the source (status "unreleased")']);

    const [c] = await listRegistry(target, "acme/node");
    expect(c!.description).toBe("Debian 12 with **containerd**, built by homelab.");
    expect(c!.short_description).toBe("A Kubernetes node");
    expect(c!.versions.map((v) => [v.version, v.description, v.status ?? "active"])).toEqual([
      // The recorded HCP version's description_markdown, as the real host sends it.
      ["1.0.0", "A new version", "active"],
      ["1.1.0", "Kernel 6.12, containerd 2.1", "active"],
    ]);
    const text = summaryText(summary);
    expect(text).toContain('left out: acme/node@1.2.0: not released at the source (status "unreleased")');
    expect(text).toContain('left out: acme/node@0.9.0: not released at the source (status "revoked")');
    expect(text).toContain("descriptions set: acme/node, acme/node@1.0.0, acme/node@1.1.0");
  });

  it("a plain Vagrant catalog → registry directory: the catalog's description and its versions' descriptions arrive", async () => {
    node();
    const target = join(tmp.path, "plain-target");
    source.boxText.delete("acme/node"); // the recorded catalog's own description
    const summary = await run({ sources: [source.catalogUrl("acme", "node")], registry: target });
    expect(summary.failed.count).toBe(0);
    const [c] = await listRegistry(target, "acme/node");
    expect(c!.description).toBe(VAGRANT_CATALOG.description);
    expect(c!.short_description).toBeUndefined();
    // 1.0.0 has no description in a plain catalog; 1.1.0 has one.
    expect(c!.versions.map((v) => [v.version, v.description ?? ""])).toEqual([
      ["1.0.0", ""],
      ["1.1.0", "Kernel 6.12, containerd 2.1"],
    ]);
  });

  it("HCP API → `box serve` over HTTP: the descriptions are set through Vagrant's API and read back in its shape", async () => {
    node();
    const root = join(tmp.path, "served");
    mkdirSync(root);
    const server = await startRegistryServer({ root, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [] });
    try {
      const summary = await run({ sources: ["acme/node"], registry: server.url, token: WRITE_TOKEN });
      expect(summary.failed.count, JSON.stringify(summary.descriptions)).toBe(0);
      expect(summary.descriptions.filter((d) => d.state !== "set")).toEqual([]);
      const api = (await (await fetch(`${server.url}/api/v2/box/acme/node`)).json()) as { short_description: string; description_markdown: string; versions: Array<{ version: string; description_markdown: string }> };
      expect(api.short_description).toBe("A Kubernetes node");
      expect(api.description_markdown).toBe("Debian 12 with **containerd**, built by homelab.");
      expect(api.versions.map((v) => [v.version, v.description_markdown]).sort()).toEqual([
        ["1.0.0", "A new version"],
        ["1.1.0", "Kernel 6.12, containerd 2.1"],
      ]);
      // Unreleased and revoked versions at the source are not in the target at all.
      const versions = (await listRegistry(server.url, "acme/node", WRITE_TOKEN))[0]!.versions.map((v) => v.version);
      expect(versions).toEqual(["1.0.0", "1.1.0"]);
    } finally {
      await server.close({ graceMs: 100 });
    }
  });

  it("re-mirroring keeps what the target has: a version whose description a user changed and a box description edited there are not overwritten", async () => {
    node();
    const target = join(tmp.path, "kept-target");
    await run({ sources: ["acme/node"], registry: target });
    const store = await BoxStore.open(target);
    const ref = { org: "acme", name: "node" };
    await store.saveVersion(ref, "1.1.0", { description: "Our own notes on 1.1.0" }, "update");
    await store.saveBox(ref, { description: "Our fork of acme/node" }, "update");
    // A version the user cleared is filled again (empty is "none"), as is one a killed run never described.
    await store.saveVersion(ref, "1.0.0", { description: "" }, "update");

    const again = await run({ sources: ["acme/node"], registry: target });
    expect(again.copied.count).toBe(0);
    expect(again.skipped.count).toBe(3);
    const [c] = await listRegistry(target, "acme/node");
    expect(c!.description).toBe("Our fork of acme/node");
    expect(c!.short_description).toBe("A Kubernetes node");
    expect(c!.versions.map((v) => [v.version, v.description])).toEqual([
      ["1.0.0", "A new version"],
      ["1.1.0", "Our own notes on 1.1.0"],
    ]);
    const text = summaryText(again);
    expect(text).toContain("description kept: acme/node: the target's description differs from the source's; kept as it is");
    expect(text).toContain("description kept: acme/node@1.1.0: the target's version has another description; kept as it is");
    expect(text).toContain("descriptions set: acme/node@1.0.0");
  });

  it("a dry run sets no description", async () => {
    node();
    const target = join(tmp.path, "dry-target");
    const summary = await run({ sources: ["acme/node"], registry: target, dryRun: true });
    expect(summary.descriptions).toEqual([]);
    expect(await listRegistry(target, "acme/node").catch(() => [])).toEqual([]);
  });
});
