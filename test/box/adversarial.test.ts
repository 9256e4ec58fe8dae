import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCatalog } from "../../src/box/catalog.js";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { needTool } from "../support/tools.js";
import { plantSentinel, sha256, Tally } from "./adversarial-support.js";
import { http, makeBox, READ_TOKEN, tempDir, WRITE_TOKEN } from "./support.js";

/**
 * The registry under attack (issue 12): hostile boxes and hostile requests through the HTTP
 * API, and concurrent publish + rm + force-replace with every read checked (ETag == sha256 of
 * the body, a resumed range never stitched from two boxes), then a load of concurrent
 * downloads and publishes with nothing lost. A sentinel outside the root is never read,
 * written or removed. Figures are printed as `adversarial: <area> <tried> <held>`.
 */
const execFileAsync = promisify(execFile);
const tmp = tempDir("homelab-adversarial-");
const root = join(tmp.path, "root");
const sentinel = plantSentinel(join(tmp.path, "outside"));
const tally = new Tally();
// A fresh connection per write: the server lives in this process, so a test that blocks the
// event loop (building boxes) could otherwise reuse a keep-alive socket the server is closing.
const auth = { Authorization: `Bearer ${WRITE_TOKEN}`, Connection: "close" };
let server: RegistryServer;
const log: string[] = [];
let good: Buffer;

beforeAll(async () => {
  mkdirSync(root);
  server = await startRegistryServer({ root, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [], log: (l) => log.push(l), maxUploadBytes: 256 << 20 });
  good = readFileSync(makeBox(tmp.path, "good"));
  expect((await http(`${server.url}/acme/base/1.0.0`, { method: "PUT", body: good, headers: auth })).status).toBe(201);
});
afterAll(async () => {
  await server?.close({ graceMs: 500 });
  tally.print();
  sentinel.assertUntouched();
  tmp.cleanup();
});

/** The registry is consistent: every catalog parses and every entry's file hashes to its checksum. */
function registryConsistent(): boolean {
  for (const org of readdirSync(root).filter((n) => !n.startsWith("."))) {
    for (const name of readdirSync(join(root, org))) {
      const file = join(root, org, name, "catalog.json");
      if (!existsSync(file)) continue;
      const c = parseCatalog(readFileSync(file, "utf8"), file);
      for (const v of c.versions) for (const p of v.providers) if (sha256(readFileSync(join(root, org, name, p.url))) !== p.checksum) return false;
    }
  }
  return readdirSync(join(root, ".incoming")).length === 0;
}

describe("hostile boxes through PUT", () => {
  const outsidePath = sentinel.dir.slice(1);
  const providers = [
    `../../../../${outsidePath}/x`, "../x", "..", ".", "", " ", "LibVirt", "lib virt", "libvirt\n", "libvirt\r\n", "libvirt\u0000", "lib/virt", "lib\\virt",
    "%2e%2e", "ℓibvirt", "libvírt", "-libvirt", "_libvirt", "1libvirt", "x".repeat(33), "x".repeat(5000), "libvirt.", "lib:virt", "lib*virt", "$(reboot)", "`id`",
  ];
  const badProviderTypes: unknown[] = [42, null, true, ["libvirt"], { name: "libvirt" }];
  const architectures = [`../../${outsidePath}`, "AMD64", "amd64 ", "amd64\n", "x86-64", "", "arm65", "amd64/../arm64", "..", "%00"];

  it.each(providers.map((p, i) => [JSON.stringify(p).slice(0, 60), p, i] as const))("provider %s → 400 (or stored only if valid), nothing outside", async (_n, provider, i) => {
    const body = readFileSync(makeBox(tmp.path, `p${i}`, { metadata: { provider, format: "qcow2" } }));
    const r = await http(`${server.url}/acme/hp/1.0.${i}`, { method: "PUT", body, headers: auth });
    const held = r.status === 400 && !existsSync(join(root, "acme/hp/1.0." + i)) && registryConsistent() && (await http(`${server.url}/acme/base`)).status === 200;
    expect(tally.record("hostile-box-names", held), `${r.status} ${r.body.toString()}`).toBe(true);
  });

  it.each(badProviderTypes.map((p, i) => [JSON.stringify(p), p, i] as const))("provider of type %s → 400", async (_n, provider, i) => {
    const body = readFileSync(makeBox(tmp.path, `pt${i}`, { metadata: { provider } }));
    const r = await http(`${server.url}/acme/hp/2.0.${i}`, { method: "PUT", body, headers: auth });
    expect(tally.record("hostile-box-names", r.status === 400 && registryConsistent()), r.body.toString()).toBe(true);
  });

  it.each(architectures.map((a, i) => [JSON.stringify(a), a, i] as const))("architecture %s in metadata.json → 400, with or without one in the URL", async (_n, architecture, i) => {
    const body = readFileSync(makeBox(tmp.path, `a${i}`, { metadata: { provider: "libvirt", architecture } }));
    const a = await http(`${server.url}/acme/ha/1.0.${i}`, { method: "PUT", body, headers: auth });
    const b = await http(`${server.url}/acme/ha/1.1.${i}/libvirt/amd64`, { method: "PUT", body, headers: auth });
    expect(tally.record("hostile-box-names", a.status === 400 && b.status === 400 && registryConsistent()), `${a.status} ${b.status}`).toBe(true);
  });

  it("an architecture in the URL other than metadata.json's → 400 for every pair", async () => {
    for (const meta of ["amd64", "arm64", "i386", "x86_64", "aarch64"]) {
      const body = readFileSync(makeBox(tmp.path, `m-${meta}`, { metadata: { provider: "libvirt", architecture: meta } }));
      for (const url of ["amd64", "arm64", "i386", "arm", "unknown"]) {
        const same = (meta === "x86_64" ? "amd64" : meta === "aarch64" ? "arm64" : meta) === url;
        const r = await http(`${server.url}/acme/pair/1.0.0/libvirt/${url}?force=1`, { method: "PUT", body, headers: auth });
        expect(tally.record("hostile-box-names", same ? r.status === 201 || r.status === 200 : r.status === 400), `${meta} ${url} ${r.status}`).toBe(true);
      }
    }
    expect(registryConsistent()).toBe(true);
  });

  it("hostile archives (traversal and link members, devices, a gzip bomb, truncation, garbage) never write outside the root", async () => {
    if (!needTool("python3")) return;
    const py = async (script: string, out: string): Promise<Buffer> => {
      await execFileAsync("python3", ["-c", script, out]);
      return readFileSync(out);
    };
    const meta = `m=tarfile.TarInfo("metadata.json"); d=b'{"provider":"libvirt"}'; m.size=len(d); t.addfile(m, io.BytesIO(d))`;
    const archives: Array<[string, Buffer]> = [
      ["traversal member", await py(`import tarfile,io,sys\nt=tarfile.open(sys.argv[1],"w:gz")\ni=tarfile.TarInfo("../../../${outsidePath}/sentinel"); i.size=3; t.addfile(i, io.BytesIO(b"pwn"))\n${meta}\nt.close()`, join(tmp.path, "trav.box"))],
      ["absolute member", await py(`import tarfile,io,sys\nt=tarfile.open(sys.argv[1],"w")\ni=tarfile.TarInfo("/${outsidePath}/sentinel"); i.size=3; t.addfile(i, io.BytesIO(b"pwn"))\n${meta}\nt.close()`, join(tmp.path, "abs.box"))],
      ["symlink member", await py(`import tarfile,io,sys\nt=tarfile.open(sys.argv[1],"w")\ni=tarfile.TarInfo("box.img"); i.type=tarfile.SYMTYPE; i.linkname="/${outsidePath}/sentinel"; t.addfile(i)\n${meta}\nt.close()`, join(tmp.path, "sym.box"))],
      ["hardlink member", await py(`import tarfile,io,sys\nt=tarfile.open(sys.argv[1],"w")\ni=tarfile.TarInfo("box.img"); i.type=tarfile.LNKTYPE; i.linkname="/${outsidePath}/sentinel"; t.addfile(i)\n${meta}\nt.close()`, join(tmp.path, "hard.box"))],
      ["device member", await py(`import tarfile,io,sys\nt=tarfile.open(sys.argv[1],"w")\ni=tarfile.TarInfo("dev"); i.type=tarfile.CHRTYPE; i.devmajor=1; i.devminor=3; t.addfile(i)\n${meta}\nt.close()`, join(tmp.path, "dev.box"))],
      ["metadata.json as a symlink", await py(`import tarfile,io,sys\nt=tarfile.open(sys.argv[1],"w")\ni=tarfile.TarInfo("metadata.json"); i.type=tarfile.SYMTYPE; i.linkname="/${outsidePath}/sentinel"; t.addfile(i)\nt.close()`, join(tmp.path, "metasym.box"))],
      ["gzip bomb (64 MiB of zeros)", await py(`import tarfile,io,sys\nt=tarfile.open(sys.argv[1],"w:gz")\ni=tarfile.TarInfo("box.img"); i.size=64<<20; t.addfile(i, io.BytesIO(bytes(64<<20)))\n${meta}\nt.close()`, join(tmp.path, "bomb.box"))],
      ["truncated gzip", good.subarray(0, Math.floor(good.length / 2))],
      ["garbage", Buffer.from("not a box at all\n".repeat(1000))],
      ["empty", Buffer.alloc(0)],
    ];
    for (const [what, body] of archives) {
      const t0 = Date.now();
      const r = await http(`${server.url}/acme/arch/1.0.0?force=1`, { method: "PUT", body, headers: auth }).catch((err: Error) => ({ status: 0, body: Buffer.from(`${what}: ${err.message} log: ${log.slice(-3).join(" | ")}`) }));
      const held = [200, 201, 400].includes(r.status) && Date.now() - t0 < 30_000 && registryConsistent() && !r.body.toString().includes(sentinel.content);
      expect(tally.record("hostile-box-archives", held), `${what}: ${r.status} ${r.body.toString()}`).toBe(true);
    }
  });
});

describe("hostile requests", () => {
  const a = `Authorization: Bearer ${WRITE_TOKEN}\r\n`;
  const huge = "x".repeat(80 * 1024);
  const requests: Array<[string, string, number[]]> = [
    ["dot-dot", "GET /../outside/sentinel HTTP/1.1\r\nHost: x\r\n\r\n", [400]],
    ["encoded dot-dot", "GET /%2e%2e/%2e%2e/outside/sentinel HTTP/1.1\r\nHost: x\r\n\r\n", [400]],
    ["overlong UTF-8 dot", "GET /%c0%ae%c0%ae/outside HTTP/1.1\r\nHost: x\r\n\r\n", [400]],
    ["backslash", "GET /acme\\..\\..\\outside HTTP/1.1\r\nHost: x\r\n\r\n", [400]],
    ["NUL", "GET /acme/base%00 HTTP/1.1\r\nHost: x\r\n\r\n", [400]],
    ["absolute-form", "GET http://evil/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", [400]],
    ["asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", [400, 405]],
    ["dot-file catalog", "GET /acme/base/.lock HTTP/1.1\r\nHost: x\r\n\r\n", [400, 404]],
    ["incoming dir", "GET /.incoming/x HTTP/1.1\r\nHost: x\r\n\r\n", [400, 404]],
    ["box file by name", "GET /acme/base/1.0.0/libvirt-amd64.box HTTP/1.1\r\nHost: x\r\n\r\n", [404]],
    ["5000 segments", `GET /${"a/".repeat(5000)} HTTP/1.1\r\nHost: x\r\n\r\n`, [400, 404, 414, 431]],
    ["10k-char box name", `GET /acme/${"b".repeat(10_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, [404, 414, 431]],
    ["huge header", `GET /acme/base HTTP/1.1\r\nHost: x\r\nX-Big: ${huge}\r\n\r\n`, [431]],
    ["huge Authorization", `DELETE /acme/base/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${"t".repeat(10_000)}\r\n\r\n`, [403]],
    ["TRACE", "TRACE /acme/base HTTP/1.1\r\nHost: x\r\n\r\n", [405]],
    ["POST", `POST /acme/base/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}Content-Length: 1\r\n\r\nx`, [405]],
    ["PATCH", `PATCH /acme/base/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}Content-Length: 1\r\n\r\nx`, [405]],
    ["lower-case method", "get /acme/base HTTP/1.1\r\nHost: x\r\n\r\n", [400]],
    ["CL + TE smuggling", `PUT /acme/smug/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nDELETE /acme/base/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}\r\n`, [400]],
    ["two Content-Lengths", `PUT /acme/smug/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx`, [400]],
    ["negative Content-Length", `PUT /acme/smug/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}Content-Length: -1\r\n\r\n`, [400]],
    ["Content-Length over the maximum", `PUT /acme/smug/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}Content-Length: 99999999999999\r\n\r\n`, [413]],
    ["chunk size overflow", `PUT /acme/smug/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n`, [400]],
    ["TE obfuscated", `PUT /acme/smug/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}Transfer-Encoding: xchunked\r\n\r\n`, [400, 501]],
    ["Expect: garbage", `PUT /acme/smug/1.0.0 HTTP/1.1\r\nHost: x\r\n${a}Expect: teapot\r\nContent-Length: 1\r\n\r\nx`, [417]],
    ["Expect without a token", `PUT /acme/smug/1.0.0 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n`, [401]],
    ["write token in the query", `DELETE /acme/base/1.0.0?access_token=${WRITE_TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n`, [401]],
    ["write token as Basic", `DELETE /acme/base/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from(`x:${WRITE_TOKEN}`).toString("base64")}\r\n\r\n`, [401]],
    ["token prefix", `DELETE /acme/base/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN.slice(0, -1)}\r\n\r\n`, [403]],
    ["token with a suffix", `DELETE /acme/base/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}x\r\n\r\n`, [403]],
    ["read token writes", `DELETE /acme/base/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${READ_TOKEN}\r\n\r\n`, [403]],
    ["hostile Host", "GET /acme/base HTTP/1.1\r\nHost: evil\"><script>\r\n\r\n", [400]],
    ["no Host", "GET /acme/base HTTP/1.1\r\n\r\n", [400]],
    ["unknown query key", "GET /acme/base?file=../../outside HTTP/1.1\r\nHost: x\r\n\r\n", [400]],
    ["force as path", `PUT /acme/base/1.0.0/..%2f..%2f?force=1 HTTP/1.1\r\nHost: x\r\n${a}Content-Length: 1\r\n\r\nx`, [400]],
    ["range bytes=-0", "GET /acme/base/1.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nRange: bytes=-0\r\n\r\n", [416]],
    ["range beyond 2^53", "GET /acme/base/1.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nRange: bytes=99999999999999999999-\r\n\r\n", [416]],
    ["range reversed", "GET /acme/base/1.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nRange: bytes=50-10\r\n\r\n", [416]],
    ["range list of 1000", `GET /acme/base/1.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nRange: bytes=${Array.from({ length: 1000 }, (_, i) => `${i}-${i}`).join(",")}\r\n\r\n`, [200]],
    ["If-Range garbage", "GET /acme/base/1.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\nIf-Range: \"x\"\r\n\r\n", [200]],
    ["HTTP/0.9", "GET /acme/base\r\n\r\n", [0, 400]],
    ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", [0, 400, 505]],
    ["bare LF", "GET /acme/base HTTP/1.1\nHost: x\n\n", [0, 200, 400]],
    ["header injection in query", "GET /acme/base?force=1%0d%0aSet-Cookie:x HTTP/1.1\r\nHost: x\r\n\r\n", [200, 400]],
  ];

  it.each(requests)("%s → expected status, the server still healthy, nothing outside touched", async (_name, head, expected) => {
    const text = await rawOnce(server.port, head.includes("Connection:") ? head : head.replace(/\r?\n\r?\n/, (m) => (m.startsWith("\r") ? "\r\nConnection: close\r\n\r\n" : "\nConnection: close\n\n")));
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
    const healthy = (await http(`${server.url}/healthz`)).status === 200 && (await http(`${server.url}/acme/base`)).status === 200;
    const held = expected.includes(status) && healthy && !text.includes(sentinel.content) && !text.includes(tmp.path) && registryConsistent();
    expect(tally.record("hostile-requests", held), `${status}: ${text.slice(0, 300)}`).toBe(true);
  });

  it("every failed request has a log line and no log line holds a token", () => {
    const all = log.join("\n");
    expect(all).not.toContain(WRITE_TOKEN);
    expect(log.filter((l) => /\s(4\d\d|5\d\d)\b/.test(l)).length).toBeGreaterThan(requests.length / 2);
  });
});

describe("concurrent publish + rm + force-replace: every read checked", () => {
  it("ETag == sha256(body) on every 200, a resumed range is never stitched from two boxes, nothing lost", async () => {
    const boxes = ["ra", "rb", "rc"].map((n) => readFileSync(makeBox(tmp.path, n, { imageBytes: 384 * 1024 })));
    const bySha = new Map(boxes.map((b) => [sha256(b), b]));
    const base = `${server.url}/acme/race`;
    expect((await http(`${base}/1.0.0`, { method: "PUT", body: boxes[0]!, headers: auth })).status).toBe(201);
    let stop = false;
    const problems: string[] = [];
    let writes = 0;
    const replacer = (async () => {
      for (let i = 0; i < 40; i++, writes++) {
        const r = await http(`${base}/1.0.0?force=1`, { method: "PUT", body: boxes[i % 3]!, headers: auth });
        if (!tally.record("race-writes", r.status === 200)) problems.push(`force-replace ${r.status}`);
      }
    })();
    const churner = (async () => {
      for (let i = 0; i < 20; i++, writes += 2) {
        const put = await http(`${base}/1.1.0`, { method: "PUT", body: boxes[(i + 1) % 3]!, headers: auth });
        const del = await http(`${base}/1.1.0`, { method: "DELETE", headers: auth });
        if (!tally.record("race-writes", put.status === 201) || !tally.record("race-writes", del.status === 200)) problems.push(`churn ${put.status} ${del.status}`);
      }
    })();
    const reader = async (version: string): Promise<void> => {
      while (!stop) {
        const full = await http(`${base}/${version}/libvirt/amd64`);
        if (full.status === 404 && version === "1.1.0") continue; // removed meanwhile: allowed
        const etag = String(full.headers.etag).replace(/"/g, "");
        const ok = full.status === 200 && etag === sha256(full.body) && bySha.has(etag);
        if (!tally.record("race-reads", ok)) problems.push(`read ${version}: ${full.status} etag ${etag} body ${sha256(full.body)}`);
        // A resume against the ETag just seen: a 206 must be a slice of that very box.
        const part = await http(`${base}/${version}/libvirt/amd64`, { headers: { Range: "bytes=1000-200999", "If-Range": `"${etag}"` } });
        if (part.status === 404) continue;
        const expected = part.status === 206 ? bySha.get(etag)?.subarray(1000, 201000) : bySha.get(String(part.headers.etag).replace(/"/g, ""));
        const okRange = (part.status === 206 || part.status === 200) && expected !== undefined && expected.equals(part.body);
        if (!tally.record("race-reads", okRange)) problems.push(`range ${version}: ${part.status}`);
      }
    };
    const readers = [reader("1.0.0"), reader("1.0.0"), reader("1.1.0"), reader("1.0.0")];
    await Promise.all([replacer, churner]);
    stop = true;
    await Promise.all(readers);
    expect(problems).toEqual([]);
    expect(tally.get("race-reads").tried).toBeGreaterThan(50);
    expect(writes).toBe(80);
    // Exactly one file left for 1.0.0 (the current one), none for 1.1.0, no temp files.
    expect(readdirSync(join(root, "acme/race/1.0.0"))).toHaveLength(1);
    expect(existsSync(join(root, "acme/race/1.1.0"))).toBe(false);
    expect(registryConsistent()).toBe(true);
  });
});

describe("load", () => {
  it("N concurrent downloads and M concurrent publishes: every download whole and right, every publish listed", async () => {
    const N = 24;
    const M = 6;
    const big = readFileSync(makeBox(tmp.path, "load", { imageBytes: 8 << 20 }));
    expect((await http(`${server.url}/acme/load/1.0.0`, { method: "PUT", body: big, headers: auth })).status).toBe(201);
    const uploads = Array.from({ length: M }, (_, i) => readFileSync(makeBox(tmp.path, `up${i}`, { imageBytes: 2 << 20 })));
    const t0 = performance.now();
    const [downs, pubs] = await Promise.all([
      Promise.all(Array.from({ length: N }, () => download(`${server.url}/acme/load/1.0.0/libvirt/amd64`))),
      Promise.all(uploads.map((body, i) => http(`${server.url}/acme/load/2.${i}.0`, { method: "PUT", body, headers: auth }))),
    ]);
    const seconds = (performance.now() - t0) / 1000;
    const okDown = downs.filter((d) => d === sha256(big)).length;
    const okPub = pubs.filter((p) => p.status === 201).length;
    const catalog = parseCatalog(readFileSync(join(root, "acme/load/catalog.json"), "utf8"), "c");
    const listed = uploads.filter((b, i) => catalog.versions.find((v) => v.version === `2.${i}.0`)?.providers[0]?.checksum === sha256(b)).length;
    for (let i = 0; i < N; i++) tally.record("load", i < okDown);
    for (let i = 0; i < M; i++) tally.record("load", i < Math.min(okPub, listed));
    const mib = (N * big.length + uploads.reduce((s, b) => s + b.length, 0)) / 2 ** 20;
    console.log(`adversarial: load-figures downloads=${N} publishes=${M} lost=${N - okDown + M - Math.min(okPub, listed)} MiB=${mib.toFixed(0)} seconds=${seconds.toFixed(2)} MiB/s=${(mib / seconds).toFixed(0)}`);
    expect([okDown, okPub, listed]).toEqual([N, M, M]);
    expect(registryConsistent()).toBe(true);
  });
});

/** Streams a download and returns the sha256 of what arrived (or its status when not 200). */
function download(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return resolve(`status ${res.statusCode}`);
      }
      const h = createHash("sha256");
      res.on("data", (c: Buffer) => h.update(c));
      res.on("end", () => resolve(h.digest("hex")));
      res.on("error", reject);
    })
      .on("error", reject)
      .end();
  });
}


/** Sends bytes as given; resolves with what came back when the server closes, or after 5 s. */
function rawOnce(port: number, head: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1", () => sock.write(Buffer.from(head, "latin1")));
    let text = "";
    const t = setTimeout(() => sock.destroy(), 5000);
    sock.on("data", (d: Buffer) => (text += d.toString("latin1")));
    sock.on("error", () => {});
    sock.on("close", () => {
      clearTimeout(t);
      resolve(text);
    });
  });
}

