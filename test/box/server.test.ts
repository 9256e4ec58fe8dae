import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBox } from "../../src/box/publish.js";
import { parseRange, startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { http, makeBox, rawRequest, READ_TOKEN, runCli, tempDir, WRITE_TOKEN } from "./support.js";

const tmp = tempDir();
const root = join(tmp.path, "root");
const outside = join(tmp.path, "outside");
const SENTINEL = "sentinel-outside-the-root";
let server: RegistryServer;
let box: string;
let boxSha: string;

beforeAll(async () => {
  mkdirSync(outside);
  writeFileSync(join(outside, "secret"), SENTINEL);
  box = makeBox(tmp.path, "served", { imageBytes: 256 * 1024 });
  boxSha = createHash("sha256").update(readFileSync(box)).digest("hex");
  await publishBox({ file: box, name: "acme/node", version: "1.2.0", registry: root });
  // A symlinked org, box and box file inside the root, all pointing outside it.
  symlinkSync(outside, join(root, "linked"));
  mkdirSync(join(outside, "box", "1.0.0"), { recursive: true });
  writeFileSync(join(outside, "box", "catalog.json"), JSON.stringify({ name: "linked/box", versions: [{ version: "1.0.0", providers: [{ name: "libvirt", url: "1.0.0/libvirt-amd64.box", checksum_type: "sha256", checksum: "0".repeat(64), architecture: "amd64" }] }] }));
  writeFileSync(join(outside, "box", "1.0.0", "libvirt-amd64.box"), SENTINEL);
  symlinkSync(join(outside, "box"), join(root, "acme", "linkbox"));
  server = await startRegistryServer({ root, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [] });
});
afterAll(async () => {
  await server?.close({ graceMs: 1000 });
  tmp.cleanup();
});

describe("registry server: reads", () => {
  it("answers the catalog to GET and HEAD as application/json with absolute URLs for the host asked", async () => {
    const head = await http(`${server.url}/acme/node`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers["content-type"]).toBe("application/json");
    expect(head.body.length).toBe(0);
    const res = await http(`${server.url}/acme/node`, { headers: { Host: "boxes.example:8443" } });
    const catalog = JSON.parse(res.body.toString());
    expect(catalog).toMatchObject({ name: "acme/node", versions: [{ version: "1.2.0", providers: [{ name: "libvirt", checksum_type: "sha256", checksum: boxSha, architecture: "amd64", default_architecture: true }] }] });
    expect(catalog.versions[0].providers[0].url).toBe("http://boxes.example:8443/acme/node/1.2.0/libvirt/amd64");
    expect((await http(`${server.url}/acme/node`, { headers: { Host: "evil host\"" } })).status).toBe(400);
  });

  it("serves the box with Content-Length, ETag, Range and conditional requests", async () => {
    const url = `${server.url}/acme/node/1.2.0/libvirt/amd64`;
    const full = await http(url);
    expect(full.status).toBe(200);
    expect(full.headers["content-length"]).toBe(String(statSync(box).size));
    expect(createHash("sha256").update(full.body).digest("hex")).toBe(boxSha);
    const etag = full.headers.etag as string;
    expect(etag).toBe(`"${boxSha}"`);
    const part = await http(url, { headers: { Range: "bytes=100-199" } });
    expect(part.status).toBe(206);
    expect(part.headers["content-range"]).toBe(`bytes 100-199/${full.body.length}`);
    expect(part.body).toEqual(full.body.subarray(100, 200));
    const tail = await http(url, { headers: { Range: "bytes=-10" } });
    expect(tail.body).toEqual(full.body.subarray(-10));
    expect((await http(url, { headers: { Range: `bytes=${full.body.length}-` } })).status).toBe(416);
    expect((await http(url, { headers: { "If-None-Match": etag } })).status).toBe(304);
    expect((await http(url, { headers: { Range: "bytes=0-9", "If-Range": '"stale"' } })).status).toBe(200);
    expect((await http(url, { method: "HEAD" })).headers["content-length"]).toBe(String(full.body.length));
    expect((await http(`${server.url}/healthz`)).body.toString()).toBe("ok\n");
  });

  it("parses ranges like RFC 9110", () => {
    expect(parseRange("bytes=0-0", 10)).toEqual([0, 0]);
    expect(parseRange("bytes=5-", 10)).toEqual([5, 9]);
    expect(parseRange("bytes=5-100", 10)).toEqual([5, 9]);
    expect(parseRange("bytes=-3", 10)).toEqual([7, 9]);
    expect(parseRange("bytes=10-", 10)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-1,3-4", 10)).toBeUndefined();
    expect(parseRange("items=0-1", 10)).toBeUndefined();
  });
});

describe("registry server: uploads", () => {
  it("takes a PUT with the write token, refuses a duplicate (409) unless ?force=1", async () => {
    const body = readFileSync(box);
    const url = `${server.url}/acme/up/1.0.0/libvirt/amd64`;
    const ok = await http(url, { method: "PUT", body, headers: { Authorization: `Bearer ${WRITE_TOKEN}` } });
    expect(ok.status, ok.body.toString()).toBe(201);
    expect(JSON.parse(ok.body.toString())).toMatchObject({ checksum: boxSha, size: body.length });
    expect((await http(url, { method: "PUT", body, headers: { Authorization: `Bearer ${WRITE_TOKEN}` } })).status).toBe(409);
    expect((await http(`${url}?force=1`, { method: "PUT", body, headers: { Authorization: `Bearer ${WRITE_TOKEN}` } })).status).toBe(200);
    const bad = await http(`${server.url}/acme/up/1.1.0/virtualbox`, { method: "PUT", body, headers: { Authorization: `Bearer ${WRITE_TOKEN}` } });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body.toString()).error).toMatch(/says provider "libvirt"/);
    expect((await http(`${server.url}/acme/up/1.0.0`, { method: "DELETE", headers: { Authorization: `Bearer ${WRITE_TOKEN}` } })).status).toBe(200);
    expect((await http(url)).status).toBe(404);
  });

  it("an upload cut off midway is discarded: no temp file, nothing in the catalog", async () => {
    const port = server.port;
    const sock = connect(port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    sock.write(`PUT /acme/cut/1.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 10000000\r\n\r\n`);
    sock.write(readFileSync(box).subarray(0, 100_000));
    await waitFor(() => readdirSync(join(root, ".incoming")).length === 1);
    sock.destroy();
    await waitFor(() => readdirSync(join(root, ".incoming")).length === 0);
    expect(existsSync(join(root, "acme/cut/catalog.json"))).toBe(false);
  });

  it("the CLI publishes, lists and removes over HTTP with a token from the environment", async () => {
    const env = { HOMELAB_REGISTRY_TOKEN: WRITE_TOKEN };
    const pub = await runCli(["box", "publish", box, "--name", "acme/cli", "--version", "3.0.0", "--registry", server.url], { env });
    expect(pub.code, pub.stderr).toBe(0);
    expect(pub.stdout).toContain(boxSha);
    const again = await runCli(["box", "publish", box, "--name", "acme/cli", "--version", "3.0.0", "--provider", "libvirt", "--registry", server.url], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already published/);
    const noToken = await runCli(["box", "publish", box, "--name", "acme/cli", "--version", "3.1.0", "--registry", server.url, "--token", "wrong-token-wrong-token"]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/403/);
    const list = await runCli(["box", "list", "acme/cli", "--registry", server.url]);
    expect(list.stdout).toMatch(/acme\/cli\s+3\.0\.0\s+active\s+libvirt\s+amd64\*/);
    expect((await runCli(["box", "rm", "acme/cli@3.0.0/libvirt", "--registry", server.url], { env })).code).toBe(0);
    expect((await runCli(["box", "rm", "acme/cli@3.0.0", "--registry", server.url], { env })).code).toBe(1);
  });
});

describe("registry server: hostile requests never leave the root", () => {
  const auth = `Authorization: Bearer ${WRITE_TOKEN}\r\n`;
  const hostile: Array<[string, string]> = [
    ["no token PUT", "PUT /acme/node/9.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"],
    ["wrong token PUT", "PUT /acme/node/9.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope-nope-nope-nope\r\nContent-Length: 1\r\n\r\nx"],
    ["no token DELETE", "DELETE /acme/node/1.2.0 HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["wrong token DELETE", "DELETE /acme/node/1.2.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n"],
    ["token as Basic", "DELETE /acme/node/1.2.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + Buffer.from(`a:${WRITE_TOKEN}`).toString("base64") + "\r\n\r\n"],
    ["dot-dot", "GET /../outside/secret HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["dot-dot inside", "GET /acme/../../outside/secret HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["encoded dots", "GET /%2e%2e/outside/secret HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["encoded dots mixed case", "GET /acme/%2E%2E/%2E%2E/outside/secret HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["encoded slash", "GET /..%2f..%2foutside%2fsecret HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["encoded slash in box", "GET /acme/node%2f..%2f..%2f..%2foutside HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["double encoding", "GET /%252e%252e/%252e%252e/outside/secret HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["absolute path", "GET //etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["absolute-form target", "GET http://x/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["file path as target", "GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["backslashes", "GET /..\\..\\outside\\secret HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["NUL", "GET /acme/node%00/1.2.0 HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["dot segment", "GET /acme/./node HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["dot-file", "GET /.incoming HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["lock file", "GET /acme/node/.lock HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["symlinked org catalog", "GET /linked/box HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["symlinked org box file", "GET /linked/box/1.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["symlinked box dir", "GET /acme/linkbox HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["symlinked box dir file", "GET /acme/linkbox/1.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\n\r\n"],
    ["PUT through a symlinked org", `PUT /linked/box/2.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 1\r\n\r\nx`],
    ["PUT with dot-dot", `PUT /acme/../x/1.0.0/libvirt HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 1\r\n\r\nx`],
    ["PUT with encoded slash", `PUT /acme/x%2f..%2f..%2fpwn/1.0.0/libvirt HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 1\r\n\r\nx`],
    ["DELETE with dot-dot", `DELETE /acme/node/../../outside HTTP/1.1\r\nHost: x\r\n${auth}\r\n`],
    ["unknown query", "GET /acme/node?path=../../outside HTTP/1.1\r\nHost: x\r\n\r\n"],
  ];

  it.each(hostile)("%s → 400/401/403/404, nothing read or written outside", async (_name, head) => {
    const before = snapshot(outside);
    const { status, text } = await rawRequest(server.port, head.includes("Connection:") ? head : head.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
    expect([400, 401, 403, 404]).toContain(status);
    expect(text).not.toContain(SENTINEL);
    expect(snapshot(outside)).toEqual(before);
    expect(existsSync(join(tmp.path, "pwn"))).toBe(false);
    expect(existsSync(join(tmp.path, "x"))).toBe(false);
  });

  it("the list has at least 20 entries", () => expect(hostile.length).toBeGreaterThanOrEqual(20));
});

describe("registry server: protected reads", () => {
  it("needs a read or write token for catalogs and boxes when configured (Bearer or ?access_token=)", async () => {
    const s = await startRegistryServer({ root, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [READ_TOKEN] });
    try {
      expect((await http(`${s.url}/acme/node`)).status).toBe(401);
      expect((await http(`${s.url}/acme/node`, { headers: { Authorization: "Bearer wrong-wrong-wrong-wrong" } })).status).toBe(403);
      expect((await http(`${s.url}/acme/node/1.2.0/libvirt/amd64`)).status).toBe(401);
      expect((await http(`${s.url}/`)).status).toBe(401);
      expect((await http(`${s.url}/acme/node`, { headers: { Authorization: `Bearer ${READ_TOKEN}` } })).status).toBe(200);
      expect((await http(`${s.url}/acme/node?access_token=${READ_TOKEN}`)).status).toBe(200);
      expect((await http(`${s.url}/acme/node/1.2.0/libvirt/amd64`, { headers: { Authorization: `Bearer ${WRITE_TOKEN}` } })).status).toBe(200);
      // A read token cannot write.
      expect((await http(`${s.url}/acme/node/1.2.0`, { method: "DELETE", headers: { Authorization: `Bearer ${READ_TOKEN}` } })).status).toBe(403);
      expect((await http(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it("refuses uploads when no write token is configured", async () => {
    const s = await startRegistryServer({ root, port: 0, writeTokens: [], readTokens: [] });
    try {
      const r = await http(`${s.url}/acme/node/5.0.0/libvirt`, { method: "PUT", body: readFileSync(box), headers: { Authorization: "Bearer anything-anything" } });
      expect(r.status).toBe(403);
    } finally {
      await s.close();
    }
  });
});

function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${p}:${statSync(p).size}:${statSync(p).atimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
