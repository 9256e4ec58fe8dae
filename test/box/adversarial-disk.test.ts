import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCatalog } from "../../src/box/catalog.js";
import { fsckRegistry } from "../../src/box/fsck.js";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { BoxStore } from "../../src/box/store.js";
import { mountTmpfs, plantSentinel, sha256, Tally, unmount } from "./adversarial-support.js";
import { http, makeBox, tempDir, WRITE_TOKEN } from "./support.js";

/**
 * A full disk at every write point of a publish: the registry root on an 8 MiB tmpfs, filled
 * (by a file beside the root) to leave 0, 4 KiB, 8 KiB … free, then a chunked upload (no
 * Content-Length, so the free-space check cannot refuse it up front and each write meets the
 * full disk in turn: the upload file, the lock, the box file's directory, the catalog). Every
 * attempt ends with a status and a log line, and the registry stays whole: the old box is
 * served with an ETag that matches its bytes, fsck finds nothing, no junk is left.
 */
const tmp = tempDir("homelab-disk-");
const disk = join(tmp.path, "disk");
const root = join(disk, "root");
const filler = join(disk, "filler");
const sentinel = plantSentinel(join(tmp.path, "outside"));
const tally = new Tally();
const auth = { Authorization: `Bearer ${WRITE_TOKEN}`, Connection: "close" };
let mounted = false;
let server: RegistryServer;
const log: string[] = [];

beforeAll(async () => {
  mounted = mountTmpfs(disk, "8m");
  if (!mounted) return;
  mkdirSync(root);
  server = await startRegistryServer({ root, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [], log: (l) => log.push(l) });
});
afterAll(async () => {
  await server?.close({ graceMs: 200 });
  if (mounted) unmount(disk);
  tally.print();
  sentinel.assertUntouched();
  tmp.cleanup();
});

function free(): number {
  const st = statfsSync(disk);
  return st.bavail * st.bsize;
}

/** Leaves about `bytes` free on the tmpfs (whole pages). */
function fillTo(bytes: number): void {
  rmSync(filler, { force: true });
  const n = free() - bytes;
  if (n > 0) writeFileSync(filler, Buffer.alloc(n));
}

/** A chunked PUT (the body streamed in 16 KiB chunks): resolves with the status line and body. */
function putChunked(path: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve) => {
    const sock = connect(server.port, "127.0.0.1", () => {
      sock.write(`PUT ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
      for (let i = 0; i < body.length; i += 16384) {
        const c = body.subarray(i, i + 16384);
        sock.write(`${c.length.toString(16)}\r\n`);
        sock.write(c);
        sock.write("\r\n");
      }
      sock.write("0\r\n\r\n");
    });
    let text = "";
    sock.on("data", (d: Buffer) => (text += d.toString("latin1")));
    sock.on("error", () => {});
    sock.on("close", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
  });
}

async function whole(): Promise<string[]> {
  const problems: string[] = [];
  const report = await fsckRegistry(await BoxStore.open(root));
  for (const f of report.findings) problems.push(`${f.kind} ${f.path}`);
  if (readdirSync(join(root, ".incoming")).length > 0) problems.push(".incoming not empty");
  const c = parseCatalog(readFileSync(join(root, "acme/disk/catalog.json"), "utf8"), "c");
  for (const v of c.versions) for (const p of v.providers) if (sha256(readFileSync(join(root, "acme/disk", p.url))) !== p.checksum) problems.push(`${v.version} hash`);
  const r = await http(`${server.url}/acme/disk/1.0.0/libvirt/amd64`);
  if (r.status !== 200 || r.headers.etag !== `"${sha256(r.body)}"`) problems.push(`served 1.0.0: ${r.status}`);
  return problems;
}

describe("a full disk", () => {
  it("refuses an upload whose Content-Length does not fit with 507, before reading it", async () => {
    if (!mounted) return;
    const text = await new Promise<string>((resolve) => {
      const sock = connect(server.port, "127.0.0.1", () =>
        sock.write(`PUT /acme/disk/9.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: ${16 << 20}\r\nExpect: 100-continue\r\n\r\n`),
      );
      let t = "";
      sock.on("data", (d: Buffer) => {
        t += d.toString();
        sock.destroy();
      });
      sock.on("close", () => resolve(t));
    });
    expect(text).toMatch(/^HTTP\/1\.1 507/);
    expect(text).not.toMatch(/100 Continue/);
    expect(log.some((l) => l.startsWith("PUT /acme/disk/9.0.0 507"))).toBe(true);
  });

  it("a chunked upload bigger than the disk: 507, a log line, nothing left", async () => {
    if (!mounted) return;
    const body = readFileSync(makeBox(tmp.path, "huge", { imageBytes: 12 << 20 }));
    const r = await putChunked("/acme/huge/1.0.0", body);
    expect(r.status, r.text).toBe(507);
    expect(log.some((l) => l.startsWith("PUT /acme/huge/1.0.0 507"))).toBe(true);
    expect(readdirSync(join(root, ".incoming"))).toEqual([]);
    expect(existsSync(join(root, "acme/huge/catalog.json"))).toBe(false);
  });

  it("at each write point (free space from 0 up, page by page): a status, a log line, the registry whole", async () => {
    if (!mounted) return;
    const old = readFileSync(makeBox(tmp.path, "old", { imageBytes: 24 * 1024 }));
    expect((await http(`${server.url}/acme/disk/1.0.0`, { method: "PUT", body: old, headers: auth })).status).toBe(201);
    const next = readFileSync(makeBox(tmp.path, "next", { imageBytes: 24 * 1024 }));
    const statuses = new Map<number, number>();
    const failures = new Set<string>();
    const pages = Math.ceil(next.length / 4096) + 8;
    for (let page = 0; page <= pages; page++) {
      for (const [what, path] of [
        ["new version", "/acme/disk/2.0.0"],
        ["force-replace", "/acme/disk/1.0.0?force=1"],
      ] as const) {
        fillTo(page * 4096);
        const before = log.length;
        const r = await putChunked(path, next);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        await new Promise((res) => setTimeout(res, 20)); // the log line is written when the response finishes
        const line = log.slice(before).find((l) => l.startsWith(`PUT ${path}`));
        if (r.status !== 200 && r.status !== 201 && line) failures.add(line.replace(/^PUT \S+ /, "").replace(/\/[^\s)]*/g, "…"));
        rmSync(filler, { force: true });
        const problems = await whole();
        const held = [200, 201, 507].includes(r.status) && line !== undefined && problems.length === 0;
        expect(tally.record("full-disk", held), `${what} with ${page} pages free: ${r.status} ${r.text.split("\r\n\r\n")[1] ?? ""} ${problems.join(", ")} log: ${line}`).toBe(true);
        // Back to the start: the old box as 1.0.0, no 2.0.0.
        if (what === "new version" && r.status === 201) expect((await http(`${server.url}/acme/disk/2.0.0`, { method: "DELETE", headers: auth })).status).toBe(200);
        if (what === "force-replace" && r.status === 200) expect((await http(`${server.url}/acme/disk/1.0.0?force=1`, { method: "PUT", body: old, headers: auth })).status).toBe(200);
      }
    }
    // A DELETE on a full disk (the catalog rewrite needs a page) also ends whole.
    expect((await http(`${server.url}/acme/disk/3.0.0`, { method: "PUT", body: next, headers: auth })).status).toBe(201);
    fillTo(0);
    const del = await http(`${server.url}/acme/disk/3.0.0`, { method: "DELETE", headers: auth });
    rmSync(filler, { force: true });
    expect(tally.record("full-disk", [200, 507].includes(del.status) && (await whole()).length === 0), `${del.status}`).toBe(true);
    console.log(`adversarial: full-disk-figures statuses=${JSON.stringify(Object.fromEntries(statuses))} failure-points=${JSON.stringify([...failures])}`);
    expect(statuses.get(507)).toBeGreaterThan(0);
    expect((statuses.get(201) ?? 0) + (statuses.get(200) ?? 0)).toBeGreaterThan(0);
  }, 240_000);
});
