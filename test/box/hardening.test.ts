import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer, connect, type Server as TcpServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCatalog } from "../../src/box/catalog.js";
import { HttpRegistry } from "../../src/box/http-registry.js";
import { publishBox } from "../../src/box/publish.js";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { CLI, http, makeBox, runCli, tempDir, WRITE_TOKEN, READ_TOKEN } from "./support.js";

/**
 * One test per failure found by the attack on the registry (issue 12, items 1–8). Each one
 * failed before its fix. Every test plants a sentinel outside the root and proves it survives.
 */
const tmp = tempDir("homelab-hardening-");
afterAll(tmp.cleanup);
const outside = join(tmp.path, "outside");
const SENTINEL = "sentinel-outside-the-root";
mkdirSync(outside);
writeFileSync(join(outside, "sentinel"), SENTINEL);
const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const auth = { Authorization: `Bearer ${WRITE_TOKEN}` };

function sentinelIntact(): void {
  expect(readdirSync(outside).sort()).toEqual(["sentinel"]);
  expect(readFileSync(join(outside, "sentinel"), "utf8")).toBe(SENTINEL);
}

async function serve(root: string, extra: Partial<Parameters<typeof startRegistryServer>[0]> = {}): Promise<{ server: RegistryServer; log: string[] }> {
  const log: string[] = [];
  mkdirSync(root, { recursive: true });
  const server = await startRegistryServer({ root, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [], log: (l) => log.push(l), ...extra });
  return { server, log };
}

/** Sends a request head (and optionally body parts) on a raw socket; resolves with everything received. */
function raw(port: number, parts: Array<string | Buffer>, opts: { keepOpenMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1", () => {
      for (const p of parts) sock.write(p);
    });
    let text = "";
    sock.on("data", (d: Buffer) => (text += d.toString("latin1")));
    sock.on("error", (err) => (text ? resolve(text) : reject(err)));
    sock.on("close", () => resolve(text));
    if (opts.keepOpenMs !== undefined) setTimeout(() => sock.destroy(), opts.keepOpenMs);
  });
}

describe("1. provider and architecture names from a box's metadata.json", () => {
  const root = join(tmp.path, "r1");
  let s: Awaited<ReturnType<typeof serve>>;
  let good: Buffer;
  beforeAll(async () => {
    s = await serve(root);
    good = readFileSync(makeBox(tmp.path, "good1"));
  });
  afterAll(() => s.server.close({ graceMs: 100 }));

  const hostileProviders = ["../../../../" + join(tmp.path, "x").slice(1), "LibVirt", "lib virt", "..", "libvirt\n", "", "a/b", "x".repeat(100), "libvirt\u0000", "ℓibvirt", "-libvirt"];
  it.each(hostileProviders.map((p, i) => [JSON.stringify(p), p, i] as const))("PUT of a box whose provider is %s → 400, nothing stored, the box still works", async (_n, provider, i) => {
    const body = readFileSync(makeBox(tmp.path, `hp${i}`, { metadata: { provider, format: "qcow2" } }));
    const r = await http(`${s.server.url}/acme/p/1.0.${i}`, { method: "PUT", body, headers: auth });
    expect(r.status, r.body.toString()).toBe(400);
    expect(JSON.parse(r.body.toString()).error).toMatch(/provider/);
    expect(existsSync(join(tmp.path, "x-amd64.box"))).toBe(false);
    // The box stays usable through the API: a valid PUT, a GET and a DELETE of it all work.
    const ok = await http(`${s.server.url}/acme/p/2.0.${i}`, { method: "PUT", body: good, headers: auth });
    expect(ok.status, ok.body.toString()).toBe(201);
    expect((await http(`${s.server.url}/acme/p`)).status).toBe(200);
    expect((await http(`${s.server.url}/acme/p/2.0.${i}`, { method: "DELETE", headers: auth })).status).toBe(200);
    expect(readdirSync(join(root, ".incoming"))).toEqual([]);
    sentinelIntact();
  });

  it("an architecture in the URL that disagrees with metadata.json is refused; a hostile one too", async () => {
    const arm = readFileSync(makeBox(tmp.path, "arm", { metadata: { provider: "libvirt", architecture: "arm64" } }));
    const r = await http(`${s.server.url}/acme/a/1.0.0/libvirt/amd64`, { method: "PUT", body: arm, headers: auth });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body.toString()).error).toMatch(/architecture/);
    expect((await http(`${s.server.url}/acme/a/1.0.0/libvirt/arm64`, { method: "PUT", body: arm, headers: auth })).status).toBe(201);
    const evil = readFileSync(makeBox(tmp.path, "evilarch", { metadata: { provider: "libvirt", architecture: "../../x" } }));
    expect((await http(`${s.server.url}/acme/a/1.1.0`, { method: "PUT", body: evil, headers: auth })).status).toBe(400);
    expect((await http(`${s.server.url}/acme/a/1.1.0/libvirt/amd64`, { method: "PUT", body: evil, headers: auth })).status).toBe(400);
    sentinelIntact();
  });

  it("`box publish` of a box with a hostile provider (no --provider) exits 2 with one line", async () => {
    const reg = join(tmp.path, "r1cli");
    const file = makeBox(tmp.path, "cliprov", { metadata: { provider: "../../../../" + join(tmp.path, "y").slice(1) } });
    const r = await runCli(["box", "publish", file, "--name", "acme/c", "--version", "1.0.0", "--registry", reg]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(join(tmp.path, "y-amd64.box"))).toBe(false);
    const mismatch = makeBox(tmp.path, "climis", { metadata: { provider: "libvirt", architecture: "arm64" } });
    const m = await runCli(["box", "publish", mismatch, "--name", "acme/c", "--version", "1.0.0", "--architecture", "amd64", "--registry", reg]);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/architecture/);
    sentinelIntact();
  });
});

describe("2. DELETE and box rm never follow a symlinked version directory", () => {
  it("refuses (HTTP 403, CLI exit 2, one line) and the file outside survives", async () => {
    const root = join(tmp.path, "r2");
    await publishBox({ file: makeBox(tmp.path, "two"), name: "acme/sym", version: "1.0.0", registry: root });
    await publishBox({ file: makeBox(tmp.path, "two2"), name: "acme/sym", version: "1.1.0", registry: root });
    const catalog = parseCatalog(readFileSync(join(root, "acme/sym/catalog.json"), "utf8"), "c");
    const victim = join(tmp.path, "victim");
    mkdirSync(victim);
    for (const v of catalog.versions) {
      const file = v.providers[0]!.url.split("/")[1]!;
      writeFileSync(join(victim, file), SENTINEL);
      renameSync(join(root, "acme/sym", v.version), join(tmp.path, `moved-${v.version}`));
      symlinkSync(victim, join(root, "acme/sym", v.version));
    }
    const { server, log } = await serve(root);
    try {
      const r = await http(`${server.url}/acme/sym/1.0.0`, { method: "DELETE", headers: auth });
      expect(r.status).toBe(403);
      expect(r.body.toString()).not.toContain(root);
      expect(log.some((l) => l.includes("DELETE /acme/sym/1.0.0 403"))).toBe(true);
    } finally {
      await server.close({ graceMs: 100 });
    }
    const cli = await runCli(["box", "rm", "acme/sym@1.1.0", "--registry", root]);
    expect(cli.code).toBe(2);
    expect(cli.stderr.trim().split("\n")).toHaveLength(1);
    expect(cli.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(victim)).toHaveLength(2);
    for (const f of readdirSync(victim)) expect(readFileSync(join(victim, f), "utf8")).toBe(SENTINEL);
    sentinelIntact();
  });
});

describe("3. ETag and body agree during force-replaces", () => {
  it("every 200 read has ETag == sha256(body) while two boxes are swapped under it", async () => {
    const root = join(tmp.path, "r3");
    const { server } = await serve(root);
    try {
      const a = readFileSync(makeBox(tmp.path, "race-a", { imageBytes: 512 * 1024 }));
      const b = readFileSync(makeBox(tmp.path, "race-b", { imageBytes: 512 * 1024 }));
      const url = `${server.url}/acme/race/1.0.0/libvirt/amd64`;
      expect((await http(url, { method: "PUT", body: a, headers: auth })).status).toBe(201);
      let writing = true;
      let reads = 0;
      const bad: string[] = [];
      const writer = (async () => {
        for (let i = 0; i < 30; i++) {
          const r = await http(`${url}?force=1`, { method: "PUT", body: i % 2 ? a : b, headers: auth });
          expect(r.status).toBe(200);
        }
        writing = false;
      })();
      const reader = async (): Promise<void> => {
        while (writing) {
          const r = await http(url);
          if (r.status !== 200) {
            bad.push(`status ${r.status}`);
            continue;
          }
          reads++;
          if (r.headers.etag !== `"${sha(r.body)}"`) bad.push(`etag ${String(r.headers.etag)} body ${sha(r.body)}`);
        }
      };
      await Promise.all([writer, reader(), reader(), reader()]);
      expect(reads).toBeGreaterThan(10);
      expect(bad).toEqual([]);
      // Only the current box file is left in the version directory.
      expect(readdirSync(join(root, "acme/race/1.0.0"))).toHaveLength(1);
    } finally {
      await server.close({ graceMs: 100 });
    }
    sentinelIntact();
  });
});

describe("4. upload limits", () => {
  it("refuses a Content-Length above --max-upload-size with 413 before reading the body", async () => {
    const { server, log } = await serve(join(tmp.path, "r4a"), { maxUploadBytes: 1 << 20 });
    try {
      const text = await raw(server.port, [`PUT /acme/big/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: ${2 << 20}\r\n\r\n`]);
      expect(text).toMatch(/^HTTP\/1\.1 413/);
      expect(log.some((l) => / 413\b/.test(l))).toBe(true);
    } finally {
      await server.close({ graceMs: 100 });
    }
  });

  it("cuts a chunked upload at the limit with 413 and keeps nothing", async () => {
    const root = join(tmp.path, "r4b");
    const { server, log } = await serve(root, { maxUploadBytes: 256 * 1024 });
    try {
      const body = readFileSync(makeBox(tmp.path, "chunky", { imageBytes: 1 << 20 }));
      const head = `PUT /acme/big/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n`;
      const chunks: Array<string | Buffer> = [head];
      for (let i = 0; i < body.length; i += 64 * 1024) {
        const c = body.subarray(i, i + 64 * 1024);
        chunks.push(`${c.length.toString(16)}\r\n`, c, "\r\n");
      }
      chunks.push("0\r\n\r\n");
      const text = await raw(server.port, chunks);
      expect(text).toMatch(/^HTTP\/1\.1 413/);
      await waitFor(() => readdirSync(join(root, ".incoming")).length === 0);
      expect(existsSync(join(root, "acme/big/catalog.json"))).toBe(false);
      expect(log.some((l) => l.includes("PUT /acme/big/1.0.0 413"))).toBe(true);
    } finally {
      await server.close({ graceMs: 100 });
    }
  });

  it("an idle timeout, not a total one: a slow steady upload lands, a stalled one gets 408 and a log line", async () => {
    const root = join(tmp.path, "r4c");
    const { server, log } = await serve(root, { idleTimeoutMs: 400 });
    try {
      const body = readFileSync(makeBox(tmp.path, "slow", { imageBytes: 64 * 1024 }));
      const head = `PUT /acme/slow/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      // 20 pieces, one every 150 ms: 3 s in all, far beyond 400 ms, but never idle that long.
      const slow = await new Promise<string>((resolve, reject) => {
        const sock = connect(server.port, "127.0.0.1", () => sock.write(head));
        let text = "";
        sock.on("data", (d: Buffer) => (text += d.toString()));
        sock.on("close", () => resolve(text));
        sock.on("error", reject);
        const step = Math.ceil(body.length / 20);
        let i = 0;
        const t = setInterval(() => {
          sock.write(body.subarray(i, i + step));
          i += step;
          if (i >= body.length) clearInterval(t);
        }, 150);
      });
      expect(slow).toMatch(/^HTTP\/1\.1 201/);
      const stalled = await raw(server.port, [head.replace("/1.0.0", "/1.1.0"), body.subarray(0, 1000)]);
      expect(stalled).toMatch(/^HTTP\/1\.1 408/);
      expect(stalled).toMatch(/idle/);
      expect(log.some((l) => l.includes("PUT /acme/slow/1.1.0 408"))).toBe(true);
      await waitFor(() => readdirSync(join(root, ".incoming")).length === 0);
    } finally {
      await server.close({ graceMs: 100 });
    }
  });

  it("Expect: 100-continue is answered only after the token is checked", async () => {
    const { server } = await serve(join(tmp.path, "r4d"));
    try {
      const body = readFileSync(makeBox(tmp.path, "cont"));
      const head = (token: string): string =>
        `PUT /acme/cont/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;
      const refused = await raw(server.port, [head("wrong-token-wrong-token")], { keepOpenMs: 1000 });
      expect(refused).toMatch(/^HTTP\/1\.1 403/);
      expect(refused).not.toMatch(/100 Continue/);
      const noToken = await raw(server.port, [head("").replace(/Authorization: Bearer \r\n/, "")], { keepOpenMs: 1000 });
      expect(noToken).toMatch(/^HTTP\/1\.1 401/);
      // With the token: 100 Continue, then the body, then 201.
      const ok = await new Promise<string>((resolve, reject) => {
        const sock = connect(server.port, "127.0.0.1", () => sock.write(head(WRITE_TOKEN)));
        let text = "";
        sock.on("data", (d: Buffer) => {
          const first = text === "";
          text += d.toString("latin1");
          if (first && /^HTTP\/1\.1 100 Continue\r\n\r\n/.test(text)) sock.write(body);
        });
        sock.on("close", () => resolve(text));
        sock.on("error", reject);
      });
      expect(ok).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201/);
    } finally {
      await server.close({ graceMs: 100 });
    }
  });
});

describe("4. the serve flags", () => {
  it("--max-upload-size and --idle-timeout reach the server; a bad size is one line, exit 2", async () => {
    const bad = await runCli(["box", "serve", "--root", tmp.path, "--max-upload-size", "12X"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-upload-size: expected a size/);
    const root = join(tmp.path, "r4e");
    mkdirSync(root);
    const child = spawn(process.execPath, [CLI, "box", "serve", "--root", root, "--port", "0", "--max-upload-size", "1K", "--idle-timeout", "1"], {
      env: { ...process.env, HOMELAB_REGISTRY_WRITE_TOKENS: WRITE_TOKEN },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    try {
      const port = await new Promise<number>((resolve) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
      });
      const big = await raw(port, [`PUT /acme/f/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 2048\r\n\r\n`]);
      expect(big).toMatch(/^HTTP\/1\.1 413/);
      const t0 = Date.now();
      const idle = await raw(port, [`PUT /acme/f/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 1000\r\n\r\n`, "x"]);
      expect(idle).toMatch(/^HTTP\/1\.1 408/);
      expect(Date.now() - t0).toBeLessThan(5000);
      await waitFor(() => /PUT \/acme\/f\/1\.0\.0 408/.test(stderr));
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.on("exit", r));
    }
  });
});

describe("5. failures after the body is read get a status, a message and a log line", () => {
  it("a corrupt catalog: 500 with a message that names no server path, and a log line", async () => {
    const root = join(tmp.path, "r5");
    await publishBox({ file: makeBox(tmp.path, "five"), name: "acme/corrupt", version: "1.0.0", registry: root });
    writeFileSync(join(root, "acme/corrupt/catalog.json"), "{ not json");
    const { server, log } = await serve(root);
    try {
      const r = await http(`${server.url}/acme/corrupt/2.0.0`, { method: "PUT", body: readFileSync(makeBox(tmp.path, "five2")), headers: auth });
      expect(r.status).toBe(500);
      expect(JSON.parse(r.body.toString()).error).toMatch(/catalog.*fsck/);
      expect(r.body.toString()).not.toContain(root);
      expect(log.some((l) => l.includes("PUT /acme/corrupt/2.0.0 500"))).toBe(true);
      const g = await http(`${server.url}/acme/corrupt`);
      expect(g.status).toBe(500);
      expect(g.body.toString()).not.toContain(root);
    } finally {
      await server.close({ graceMs: 100 });
    }
    expect(readFileSync(join(root, "acme/corrupt/catalog.json"), "utf8")).toBe("{ not json");
  });

  it("an upload the client aborts leaves a log line and no temp file", async () => {
    const root = join(tmp.path, "r5b");
    const { server, log } = await serve(root);
    try {
      await raw(server.port, [`PUT /acme/ab/1.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 1000000\r\n\r\n`, Buffer.alloc(10_000)], { keepOpenMs: 300 });
      await waitFor(() => log.some((l) => l.includes("PUT /acme/ab/1.0.0") && /abort/.test(l)));
      await waitFor(() => readdirSync(join(root, ".incoming")).length === 0);
    } finally {
      await server.close({ graceMs: 100 });
    }
  });
});

describe("7. missing boxes, tokens in the query, the 404 body", () => {
  const root = join(tmp.path, "r7");
  let s: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    await publishBox({ file: makeBox(tmp.path, "seven"), name: "acme/seven", version: "1.0.0", registry: root });
    s = await serve(root, { readTokens: [READ_TOKEN] });
  });
  afterAll(() => s.server.close({ graceMs: 100 }));

  it("DELETE of a box, version or provider that does not exist → 404 naming no server directory", async () => {
    for (const path of ["/acme/nothere/1.0.0", "/acme/seven/9.9.9", "/acme/seven/1.0.0/virtualbox", "/acme/seven/1.0.0/libvirt/arm64"]) {
      const r = await http(`${s.server.url}${path}`, { method: "DELETE", headers: auth });
      expect(r.status, path).toBe(404);
      expect(r.body.toString()).not.toContain(root);
      expect(r.body.toString()).not.toContain(tmp.path);
    }
  });

  it("`box rm` of a missing box prints one line and exits 1, no stack trace", async () => {
    for (const what of ["acme/nothere@1.0.0", "acme/seven@9.9.9"]) {
      const r = await runCli(["box", "rm", what, "--registry", root]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/not in the registry/);
    }
  });

  it("a token in ?access_token= never reaches the log; a write token there does not allow writing", async () => {
    expect((await http(`${s.server.url}/acme/seven?access_token=${READ_TOKEN}`)).status).toBe(200);
    const del = await http(`${s.server.url}/acme/seven/1.0.0?access_token=${WRITE_TOKEN}`, { method: "DELETE" });
    expect(del.status).toBe(401);
    expect(JSON.parse(del.body.toString()).error).toMatch(/Authorization/);
    expect(existsSync(join(root, "acme/seven/catalog.json"))).toBe(true);
    const all = s.log.join("\n");
    expect(all).toContain("access_token=REDACTED");
    expect(all).not.toContain(READ_TOKEN);
    expect(all).not.toContain(WRITE_TOKEN);
  });
});

describe("8. the registry client: timeouts and garbage", () => {
  let silent: TcpServer;
  let garbage: TcpServer;
  let silentPort = 0;
  let garbagePort = 0;
  const sockets = new Set<import("node:net").Socket>();
  beforeAll(async () => {
    silent = createTcpServer((sock) => sockets.add(sock)); // accepts, never answers
    garbage = createTcpServer((sock) => {
      sockets.add(sock);
      sock.once("data", () => sock.end("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n<html>not json{{{"));
    });
    silentPort = await listen(silent);
    garbagePort = await listen(garbage);
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    silent.close();
    garbage.close();
  });

  it("gives up on a server that never answers after the idle timeout, with a one-line JobError", async () => {
    const reg = new HttpRegistry(`http://127.0.0.1:${silentPort}`, WRITE_TOKEN, { connectTimeoutMs: 1000, idleTimeoutMs: 300 });
    const t0 = Date.now();
    const err = (await reg.catalogs().catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/no answer|timed out/);
    expect(err.message).not.toContain("\n");
    expect(Date.now() - t0).toBeLessThan(5000);
    const file = makeBox(tmp.path, "eight");
    const pub = (await reg.publish({ file, box: { org: "acme", name: "e" }, version: "1.0.0" }).catch((e: unknown) => e)) as Error;
    expect(pub.message).toMatch(/no answer|timed out/);
  });

  it("the CLI prints one line (no stack) for a garbage answer and for a silent server", async () => {
    const list = await runCli(["box", "list", "--registry", `http://127.0.0.1:${garbagePort}`]);
    expect(list.code).toBe(1);
    expect(list.stderr.trim().split("\n")).toHaveLength(1);
    expect(list.stderr).toMatch(/not a homelab registry|not valid JSON/);
    const file = makeBox(tmp.path, "eight2");
    const pub = await runCli(["box", "publish", file, "--name", "acme/e", "--version", "1.0.0", "--registry", `http://127.0.0.1:${garbagePort}`, "--token", WRITE_TOKEN]);
    expect(pub.code).toBe(1);
    expect(pub.stderr.trim().split("\n")).toHaveLength(1);
    const slow = await runCli(["box", "list", "--registry", `http://127.0.0.1:${silentPort}`], { env: { HOMELAB_REGISTRY_TIMEOUT: "1" } });
    expect(slow.code).toBe(1);
    expect(slow.stderr.trim().split("\n")).toHaveLength(1);
    expect(slow.stderr).toMatch(/no answer/);
  });
});

function listen(s: TcpServer): Promise<number> {
  return new Promise((r) => s.listen(0, "127.0.0.1", () => r((s.address() as import("node:net").AddressInfo).port)));
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
