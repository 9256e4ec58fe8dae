import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { listRegistry } from "../../src/box/publish.js";
import { startRegistryServer } from "../../src/box/server.js";
import { mirrorBoxes, type MirrorEvent, type MirrorOptions } from "../../src/mirror/mirror.js";
import { makeBox, tempDir, WRITE_TOKEN } from "../box/support.js";
import { MirrorSource, objectId, type Checksum, type SourceFileSpec } from "../support/mirror-source.js";
import { expectIntact, plant } from "../support/planted.js";

/**
 * `homelab box mirror` against a closing box host on loopback (test/support/mirror-source.ts):
 * the HCP Vagrant API's organisation and box answers, a plain catalog, downloads redirected to a
 * storage host, and the faults a long copy meets. Boxes are real .box files (tar + metadata.json),
 * so the registry's own publish inspects every one of them.
 */
const API_TOKEN = "hcp-token-0123456789abcdef";

describe("box mirror", () => {
  const tmp = tempDir("homelab-mirror-");
  let source: MirrorSource;
  let n = 0;
  const dirs = () => {
    n++;
    return { target: join(tmp.path, `target-${n}`), work: join(tmp.path, `work-${n}`) };
  };
  const box = (name: string, provider: string, kib = 256): Buffer => readFileSync(makeBox(tmp.path, `${name}-${n}-${Math.random().toString(16).slice(2)}`, { provider, imageBytes: kib << 10 }));
  const run = (o: Partial<MirrorOptions> & Pick<MirrorOptions, "sources" | "registry">, events: MirrorEvent[] = []) =>
    mirrorBoxes({ api: source.api, jobs: 3, retryDelayMs: 10, onEvent: (e) => events.push(e), ...o });

  beforeEach(async () => {
    source = await MirrorSource.start();
  });
  afterEach(async () => {
    await source.close();
  });
  afterAll(() => tmp.cleanup());

  /** acme: two boxes; node has 1.0.0 and 1.1.0 (released) and 1.2.0 (unreleased), libvirt + virtualbox, amd64 + arm64. */
  function acme(): SourceFileSpec[] {
    const types: Checksum[] = ["sha256", "md5", "sha1", "sha512", "sha384"];
    let i = 0;
    const specs: SourceFileSpec[] = [];
    for (const version of ["1.0.0", "1.1.0"]) {
      for (const provider of ["libvirt", "virtualbox"]) {
        for (const arch of ["amd64", "arm64"]) {
          specs.push({ org: "acme", box: "node", version, provider, arch, checksumType: types[i++ % types.length]!, body: box(`${version}-${provider}-${arch}`, provider) });
        }
      }
    }
    specs.push({ org: "acme", box: "node", version: "1.2.0", provider: "libvirt", arch: "amd64", checksumType: "sha256", status: "unreleased", body: box("unreleased", "libvirt") });
    specs.push({ org: "acme", box: "tools", version: "0.3.0", provider: "libvirt", arch: "amd64", checksumType: "sha256", body: box("tools", "libvirt") });
    for (const s of specs) source.add(s);
    return specs;
  }

  it("copies a whole organisation: every released version, provider and architecture, each checksum verified, URLs the registry's own", async () => {
    const specs = acme();
    source.apiToken = API_TOKEN;
    const { target, work } = dirs();
    const summary = await run({ sources: ["acme"], registry: target, workDir: work, sourceToken: API_TOKEN });
    expect(summary.failed.count, JSON.stringify(summary.results.filter((r) => r.state === "failed"))).toBe(0);
    expect(summary.copied.count).toBe(9);
    expect(summary.notes).toEqual([{ name: "acme/node", version: "1.2.0", why: 'not released at the source (status "unreleased")' }]);

    const [node] = await listRegistry(target, "acme/node");
    expect(node!.versions.map((v) => v.version)).toEqual(["1.0.0", "1.1.0"]);
    for (const s of specs.filter((x) => x.box === "node" && x.status === undefined)) {
      const entry = node!.versions.find((v) => v.version === s.version)!.providers.find((p) => p.name === s.provider && p.architecture === s.arch)!;
      // The registry's file holds exactly the source's bytes.
      expect(entry.checksum).toBe(createHash("sha256").update(s.body).digest("hex"));
      expect(readFileSync(join(target, "acme/node", entry.url)).equals(s.body)).toBe(true);
      expect(entry.default_architecture).toBe(s.arch === "amd64");
    }
    expect(existsSync(join(target, "acme/node/1.2.0"))).toBe(false);

    // The token went to the API host, and never to the storage host the downloads redirected to.
    const storage = source.requests.filter((r) => r.host === "storage");
    expect(storage.length).toBe(9);
    expect(storage.every((r) => r.authorization === undefined)).toBe(true);
    expect(source.requests.filter((r) => r.host === "api").every((r) => r.authorization === `Bearer ${API_TOKEN}`)).toBe(true);

    // What the registry serves names its own URLs, not the closing host's.
    const server = await startRegistryServer({ root: target, port: 0, writeTokens: [], readTokens: [] });
    try {
      const served = (await (await fetch(`${server.url}/acme/node`)).json()) as { versions: Array<{ providers: Array<{ url: string }> }> };
      const urls = served.versions.flatMap((v) => v.providers.map((p) => p.url));
      expect(urls).toHaveLength(8);
      for (const u of urls) expect(u.startsWith(`${server.url}/acme/node/`)).toBe(true);
      const bytes = Buffer.from(await (await fetch(urls[0]!)).arrayBuffer());
      expect(specs.some((s) => s.body.equals(bytes))).toBe(true);
    } finally {
      await server.close({ graceMs: 100 });
    }
    // Nothing left in the work directory but its (empty) directories and the records.
    expect(readdirSync(join(work, "partial"))).toEqual([]);
  });

  it("a rerun skips what is there by checksum (sha256 directly, other types through its record), and downloads nothing", async () => {
    acme();
    const { target, work } = dirs();
    expect((await run({ sources: ["acme/node", "acme/tools"], registry: target, workDir: work })).copied.count).toBe(9);
    const before = source.requests.filter((r) => r.host === "storage").length;
    const again = await run({ sources: ["acme/node", "acme/tools"], registry: target, workDir: work });
    expect(again.copied.count).toBe(0);
    expect(again.skipped.count).toBe(9);
    expect(again.received).toBe(0);
    expect(source.requests.filter((r) => r.host === "storage").length).toBe(before);

    // Without the records (another work directory), files with a sha256 are still skipped at
    // once; the others are downloaded, compared byte for byte with the registry's, and skipped.
    const fresh = await run({ sources: ["acme/node", "acme/tools"], registry: target, workDir: join(tmp.path, `work-fresh-${n}`) });
    expect(fresh.skipped.count).toBe(9);
    expect(fresh.results.filter((r) => r.reason === "already in the target with the same bytes").length).toBeGreaterThan(0);
    expect(fresh.copied.count).toBe(0);
  });

  it("a checksum that lies fails that file and publishes nothing of it; a 5xx mid-file resumes with Range and succeeds", async () => {
    const good = { org: "lab", box: "base", version: "2.0.0", provider: "libvirt", arch: "x86_64", checksumType: "sha1" as const, body: box("good", "libvirt", 1024) };
    const lying = { org: "lab", box: "base", version: "2.0.0", provider: "virtualbox", arch: "x86_64", checksumType: "sha256" as const, lie: true, body: box("lying", "virtualbox") };
    const arm = { org: "lab", box: "base", version: "2.0.0", provider: "libvirt", arch: "aarch64", checksumType: "md5" as const, defaultArch: false, body: box("arm", "libvirt") };
    for (const s of [good, lying, arm]) source.add(s);
    // The first answer stops after 300 KiB, the next is a 503, the third finishes from 300 KiB on.
    source.faults.set(objectId(good), { cutAfter: 300 << 10, fail503: 1 });
    const { target, work } = dirs();
    const events: MirrorEvent[] = [];
    const summary = await run({ sources: [source.catalogUrl("lab", "base")], registry: target, workDir: work }, events);

    const byProvider = (p: string, a: string) => summary.results.find((r) => r.provider === p && r.architecture === a)!;
    expect(byProvider("virtualbox", "amd64").state).toBe("failed");
    expect(byProvider("virtualbox", "amd64").reason).toMatch(/hashes to sha256 [0-9a-f]{64}, but the source's catalog says/);
    const resumed = byProvider("libvirt", "amd64");
    expect(resumed.state).toBe("copied");
    expect(resumed.attempts).toBe(3);
    // What arrived before the cut (at most 300 KiB: bytes in flight are lost with the connection) was kept.
    expect(resumed.resumedFrom).toBeGreaterThan(0);
    expect(resumed.resumedFrom).toBeLessThanOrEqual(300 << 10);
    expect(resumed.bytes).toBe(good.body.length);
    expect(byProvider("libvirt", "arm64").state).toBe("copied");
    expect(events.filter((e) => e.kind === "retry").length).toBe(2);
    expect(source.requests.filter((r) => r.host === "storage" && r.path.endsWith(objectId(good))).map((r) => r.range)).toEqual([undefined, `bytes=${resumed.resumedFrom}-`, `bytes=${resumed.resumedFrom}-`]);
    expect(summary.failed.count).toBe(1);

    const [catalog] = await listRegistry(target, "lab/base");
    const entries = catalog!.versions.flatMap((v) => v.providers.map((p) => `${p.name}/${p.architecture}${p.default_architecture ? "*" : ""}`));
    expect(entries.sort()).toEqual(["libvirt/amd64*", "libvirt/arm64"]);
    expect(readdirSync(join(target, "lab/base/2.0.0")).some((f) => f.startsWith("virtualbox"))).toBe(false);
    expect(readFileSync(join(target, "lab/base", catalog!.versions[0]!.providers.find((p) => p.architecture === "amd64")!.url)).equals(good.body)).toBe(true);
    // The registry took the bytes as they came and threw them away when the checksum failed.
    expect(existsSync(join(target, ".incoming")) ? readdirSync(join(target, ".incoming")) : []).toEqual([]);
    // The lying bytes are not kept for a resume either.
    expect(readdirSync(join(work, "partial"))).toEqual([]);
  });

  it("a partial torn by a crash (bytes that are not the file's) fails the resume's checksum and is fetched whole again", async () => {
    const s = { org: "torn", box: "b", version: "1.0.0", provider: "libvirt", arch: "amd64", checksumType: "sha384" as const, body: box("torn", "libvirt", 512) };
    source.add(s);
    const { target, work } = dirs();
    plant(work, { [`partial/sha384-${source.advertised(s)}.part`]: "garbage a crash left behind".repeat(1000) });
    const summary = await run({ sources: ["torn/b"], registry: target, workDir: work });
    expect(summary.results[0]).toMatchObject({ state: "copied", attempts: 2, resumedFrom: 0, bytes: s.body.length });
    expect(source.requests.filter((r) => r.host === "storage").map((r) => r.range)).toEqual(["bytes=27000-", undefined]);
    const [catalog] = await listRegistry(target, "torn/b");
    expect(catalog!.versions[0]!.providers[0]!.checksum).toBe(createHash("sha256").update(s.body).digest("hex"));
  });

  it("runs at most --jobs downloads at once, and more than one", async () => {
    for (let i = 0; i < 6; i++) {
      const s = { org: "par", box: `b${i}`, version: "1.0.0", provider: "libvirt", arch: "amd64", checksumType: "sha256" as const, body: box(`p${i}`, "libvirt", 512) };
      source.add(s);
      source.faults.set(objectId(s), { bytesPerSecond: 8 << 20, cutTimes: 0 });
    }
    const { target, work } = dirs();
    const summary = await run({ sources: [0, 1, 2, 3, 4, 5].map((i) => `par/b${i}`), registry: target, workDir: work, jobs: 2 });
    expect(summary.copied.count).toBe(6);
    expect(source.maxActive).toBe(2);
  });

  it("--dry-run lists what would be copied and writes nothing, downloads nothing", async () => {
    acme();
    const { target, work } = dirs();
    const summary = await run({ sources: ["acme"], registry: target, workDir: work, dryRun: true });
    expect(summary.wouldCopy.count).toBe(9);
    expect(summary.results.every((r) => r.state === "would-copy" && r.url.startsWith(`${source.api}/acme/boxes/`))).toBe(true);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(work)).toBe(false);
    expect(source.requests.filter((r) => r.host === "storage")).toEqual([]);
  });

  it("publishes over HTTP into `box serve` with its PUT API and a write token", async () => {
    acme();
    const root = join(tmp.path, `served-${n++}`);
    mkdirSync(root);
    const server = await startRegistryServer({ root, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [] });
    try {
      const summary = await run({ sources: ["acme/tools"], registry: server.url, token: WRITE_TOKEN, workDir: join(tmp.path, `work-http-${n}`) });
      expect(summary.copied.count).toBe(1);
      const [tools] = await listRegistry(server.url, "acme/tools");
      expect(tools!.versions[0]!.providers[0]!.checksum).toBe(createHash("sha256").update(source.files.find((f) => f.box === "tools")!.body).digest("hex"));
      await expect(run({ sources: ["acme/tools"], registry: server.url, workDir: join(tmp.path, "w") }).catch((e: Error) => e.message)).resolves.toMatch(/needs a token/);
    } finally {
      await server.close({ graceMs: 100 });
    }
  });

  it("never touches files it did not write, in the registry or the work directory; refuses a planted symlink for a partial", async () => {
    const specs = acme();
    const { target, work } = dirs();
    const userFiles = {
      "README.md": "my registry\n",
      "acme/NOTES.txt": "org notes\n",
      "acme/node/1.0.0/keep.box": "not ours\n",
      "acme/node/catalog.json.bak": "{}\n",
    };
    plant(target, userFiles);
    const workFiles = { "notes.txt": "mine\n", "partial/unrelated.part": "mine too\n", "published/other.json": "{}\n" };
    plant(work, workFiles);
    // A symlink where a partial of ours would go: never followed, that file fails, the rest goes on.
    const victim = join(tmp.path, `victim-${n}`);
    writeFileSync(victim, "outside\n");
    const tools = specs.find((s) => s.box === "tools")!;
    symlinkSync(victim, join(work, "partial", `sha256-${createHash("sha256").update(tools.body).digest("hex")}.part`));
    const summary = await run({ sources: ["acme"], registry: target, workDir: work });
    expect(summary.copied.count).toBe(8);
    expect(summary.results.find((r) => r.box === "acme/tools")!.state).toBe("failed");
    expect(summary.results.find((r) => r.box === "acme/tools")!.reason).toMatch(/symlink/);
    expectIntact(target, userFiles);
    expectIntact(work, workFiles);
    expect(readFileSync(victim, "utf8")).toBe("outside\n");
  });
});
