import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { loadAccessConfig, type AccessConfig } from "../../src/box/tokens.js";
import { parseApiPath } from "../../src/box/vagrant-api/routes.js";
import { InputError } from "../../src/errors.js";
import { http, makeBox, tempDir, WRITE_TOKEN, READ_TOKEN } from "./support.js";

/**
 * Vagrant Cloud's API as its clients call it (paths and bodies from the vagrant_cloud gem
 * 3.0.5's Client, Packer 1.6.6's post-processor/vagrant-cloud and packer-plugin-vagrant's),
 * sent over loopback HTTP: the token rules, the release states, upload tickets and checksums.
 * The real clients run in vagrant-cloud.test.ts.
 */
const ACME_WRITE = "acme-write-token-000000000001";
const ACME_READ = "acme-read-token-0000000000002";
const OTHER_WRITE = "other-write-token-00000000003";

const tmp = tempDir("homelab-api-");
afterAll(tmp.cleanup);

interface Call {
  status: number;
  json: Record<string, unknown>;
}

async function start(access: AccessConfig, root: string, lines: string[]): Promise<RegistryServer> {
  return startRegistryServer({ root, port: 0, ...access, log: (l) => lines.push(l) });
}

function client(server: () => RegistryServer) {
  return async (method: string, path: string, token?: string, body?: unknown): Promise<Call> => {
    const headers: Record<string, string> = { Accept: "application/json", "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const r = await http(`${server().url}${path}`, { method, headers, ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)) }) });
    const text = r.body.toString("utf8");
    return { status: r.status, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
  };
}

async function put(url: string, file: string, headers: Record<string, string> = {}): Promise<Call> {
  const r = await http(url, { method: "PUT", headers, body: readFileSync(file) });
  return { status: r.status, json: JSON.parse(r.body.toString("utf8")) as Record<string, unknown> };
}

describe("Vagrant Cloud API: tokens scoped per organisation", () => {
  const root = join(tmp.path, "scoped");
  const lines: string[] = [];
  let s: RegistryServer;
  const api = client(() => s);
  beforeAll(async () => {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(root);
    s = await start(
      {
        writeTokens: [],
        readTokens: [],
        tokens: [
          { name: "acme-ci", token: ACME_WRITE, access: "write", orgs: ["acme"] },
          { token: ACME_READ, access: "read", orgs: ["acme"] },
          { name: "other-ci", token: OTHER_WRITE, access: "write", orgs: ["other"] },
        ],
      },
      root,
      lines,
    );
  });
  afterAll(() => s.close({ graceMs: 100 }));

  it("authenticate: no token is a 401 in Vagrant's error shape, a known token names its holder", async () => {
    const none = await api("GET", "/api/v1/authenticate");
    expect(none.status).toBe(401);
    expect(none.json.errors).toEqual([expect.stringMatching(/token is required/)]);
    const bad = await api("GET", "/api/v1/authenticate", "not-a-token-of-this-server");
    expect(bad.status).toBe(401);
    const ok = await api("GET", "/api/v1/authenticate", ACME_WRITE);
    expect(ok).toMatchObject({ status: 200, json: { user: { username: "acme-ci" } } });
    // Password logins do not exist here; the answer says what to do instead.
    const login = await api("POST", "/api/v1/authenticate", undefined, { user: { login: "a", password: "b" } });
    expect(login.status).toBe(400);
    expect(String((login.json.errors as string[])[0])).toMatch(/vagrant cloud auth login --token/);
  });

  it("a read token cannot write; an org's write token cannot touch another org; every refusal is a status and a log line", async () => {
    const before = lines.length;
    expect((await api("POST", "/api/v1/boxes", undefined, { username: "acme", name: "x" })).status).toBe(401);
    expect((await api("POST", "/api/v1/boxes", ACME_READ, { username: "acme", name: "x" })).status).toBe(403);
    expect((await api("POST", "/api/v1/boxes", OTHER_WRITE, { username: "acme", name: "x" })).status).toBe(403);
    const made = await api("POST", "/api/v1/boxes", ACME_WRITE, { username: "acme", name: "x", short_description: "an x" });
    expect(made).toMatchObject({ status: 200, json: { tag: "acme/x", short_description: "an x", private: true } });
    expect((await api("POST", "/api/v1/box/acme/x/versions", OTHER_WRITE, { version: { version: "1.0.0" } })).status).toBe(403);
    expect((await api("DELETE", "/api/v1/box/acme/x", OTHER_WRITE)).status).toBe(403);
    expect((await api("DELETE", "/api/v1/box/acme/x", ACME_READ)).status).toBe(403);
    const refusals = lines.slice(before).filter((l) => / 40[13] /.test(l));
    expect(refusals).toHaveLength(6);
    for (const l of refusals) expect(l).toMatch(/^(POST|DELETE) \/api\/v1\/\S+ 40[13] \S/);
    // A token in the URL does not count for writes (it would end up in logs).
    const inUrl = await api("POST", `/api/v1/boxes?access_token=${ACME_WRITE}`, undefined, { username: "acme", name: "y" });
    expect(inUrl.status).toBe(401);
    expect(lines.at(-1)).toContain("access_token=REDACTED");
    expect(lines.join("\n")).not.toContain(ACME_WRITE);
  });

  it("an org with a scoped read token is private: reads need a token of that org, others stay public", async () => {
    expect((await api("GET", "/api/v1/box/acme/x")).status).toBe(401);
    expect((await api("GET", "/api/v1/box/acme/x", OTHER_WRITE)).status).toBe(403);
    expect((await api("GET", "/api/v1/box/acme/x", ACME_READ)).status).toBe(200);
    expect((await api("GET", "/api/v1/user/acme")).status).toBe(401);
    expect((await http(`${s.url}/acme/x`)).status).toBe(401);
    expect((await http(`${s.url}/acme/x`, { headers: { Authorization: `Bearer ${ACME_READ}` } })).status).toBe(200);
    await api("POST", "/api/v1/boxes", OTHER_WRITE, { username: "other", name: "pub" });
    expect((await api("GET", "/api/v1/box/other/pub")).status).toBe(200);
    // The index lists only what the asker may read.
    const index = JSON.parse((await http(`${s.url}/`)).body.toString("utf8")) as { boxes: { name: string }[] };
    expect(index.boxes.map((b) => b.name)).toEqual(["other/pub"]);
    // Privacy is per organisation: a box cannot be made public on its own.
    const flip = await api("PUT", "/api/v1/box/acme/x", ACME_WRITE, { box: { is_private: false } });
    expect(flip.status).toBe(400);
    expect(String((flip.json.errors as string[])[0])).toMatch(/private as their organisation is/);
  });

  it("the old box routes follow the same scopes", async () => {
    const file = makeBox(tmp.path, "scoped-old");
    const url = (org: string) => `${s.url}/${org}/old/1.0.0/libvirt/amd64`;
    expect((await put(url("acme"), file, { Authorization: `Bearer ${OTHER_WRITE}` })).status).toBe(403);
    expect((await put(url("acme"), file, { Authorization: `Bearer ${ACME_READ}` })).status).toBe(403);
    expect((await put(url("acme"), file, { Authorization: `Bearer ${ACME_WRITE}` })).status).toBe(201);
    expect((await http(`${s.url}/acme/old/1.0.0`, { method: "DELETE", headers: { Authorization: `Bearer ${OTHER_WRITE}` } })).status).toBe(403);
    expect((await http(`${s.url}/acme/old/1.0.0`, { method: "DELETE", headers: { Authorization: `Bearer ${ACME_WRITE}` } })).status).toBe(200);
  });
});

describe("Vagrant Cloud API: versions, providers, uploads", () => {
  const root = join(tmp.path, "flow");
  const lines: string[] = [];
  let s: RegistryServer;
  const api = client(() => s);
  const T = WRITE_TOKEN;
  beforeAll(async () => {
    const { mkdirSync } = await import("node:fs");
    mkdirSync(root);
    // The original access format: global write and read lists (reads need a token everywhere).
    s = await start({ writeTokens: [WRITE_TOKEN], readTokens: [READ_TOKEN] }, root, lines);
  });
  afterAll(() => s.close({ graceMs: 100 }));

  it("create box, version, provider; direct upload + callback; unreleased stays out of Vagrant's catalog until released", async () => {
    expect((await api("GET", "/api/v1/box/acme/flow", T)).status).toBe(404);
    expect((await api("POST", "/api/v1/boxes", T, { username: "acme", name: "flow", description: "Alpine" })).status).toBe(200);
    const v = await api("POST", "/api/v1/box/acme/flow/versions", T, { version: { version: "1.0.0", description: "first cut" } });
    expect(v).toMatchObject({ status: 200, json: { version: "1.0.0", status: "unreleased", description: "first cut" } });
    expect((await api("POST", "/api/v1/box/acme/flow/versions", T, { version: { version: "1.0.0" } })).status).toBe(422);
    // Releasing with nothing uploaded is refused.
    expect((await api("PUT", "/api/v1/box/acme/flow/version/1.0.0/release", T)).status).toBe(422);
    const p = await api("POST", "/api/v1/box/acme/flow/version/1.0.0/providers", T, { provider: { name: "libvirt" } });
    expect(p).toMatchObject({ status: 200, json: { name: "libvirt", uploaded: false } });
    // Asking for an upload of a provider nobody created: 404.
    expect((await api("GET", "/api/v1/box/acme/flow/version/1.0.0/provider/virtualbox/upload/direct", T)).status).toBe(404);
    const up = await api("GET", "/api/v1/box/acme/flow/version/1.0.0/provider/libvirt/upload/direct", T);
    expect(up.status).toBe(200);
    const { upload_path, callback } = up.json as { upload_path: string; callback: string };
    expect(upload_path).toMatch(new RegExp(`^${s.url}/api/v1/uploads/`));
    // The callback before the upload: nothing arrived.
    expect((await http(callback, { method: "PUT", headers: { Authorization: `Bearer ${T}` } })).status).toBe(409);
    const file = makeBox(tmp.path, "flow", { imageBytes: 20_000 });
    const done = await put(upload_path, file); // no token: the URL carries the right to upload
    expect(done).toMatchObject({ status: 200, json: { name: "libvirt", architecture: "amd64", uploaded: true, checksum: sha256(file) } });
    expect((await http(callback, { method: "PUT", headers: { Authorization: `Bearer ${T}` } })).status).toBe(200);
    // Unreleased: the box exists for the owner, not for Vagrant.
    const readCatalog = async (path: string) => JSON.parse((await http(`${s.url}${path}`, { headers: { Authorization: `Bearer ${READ_TOKEN}` } })).body.toString("utf8")) as { versions: { version: string }[] };
    expect((await readCatalog("/acme/flow")).versions).toEqual([]);
    expect((await http(`${s.url}/acme/flow/1.0.0/libvirt/amd64`, { headers: { Authorization: `Bearer ${READ_TOKEN}` } })).status).toBe(404);
    expect((await api("GET", "/api/v1/box/acme/flow", READ_TOKEN)).json.versions).toEqual([]);
    expect(((await api("GET", "/api/v1/box/acme/flow", T)).json.versions as unknown[]).length).toBe(1);
    const rel = await api("PUT", "/api/v1/box/acme/flow/version/1.0.0/release", T);
    expect(rel).toMatchObject({ status: 200, json: { status: "active" } });
    const again = await api("PUT", "/api/v1/box/acme/flow/version/1.0.0/release", T);
    expect(again.status).toBe(422);
    expect(String((again.json.errors as string[])[0])).toContain("already been released"); // what Packer looks for
    expect((await readCatalog("/acme/flow")).versions.map((x) => x.version)).toEqual(["1.0.0"]);
    expect((await readCatalog("/api/v2/vagrant/acme/flow")).versions.map((x) => x.version)).toEqual(["1.0.0"]);
    const box = await api("GET", "/api/v1/box/acme/flow", READ_TOKEN);
    expect(box.json).toMatchObject({ tag: "acme/flow", current_version: { version: "1.0.0" } });
    // A released version's box cannot be swapped under its users.
    expect((await api("GET", "/api/v1/box/acme/flow/version/1.0.0/provider/libvirt/upload", T)).status).toBe(409);
  });

  it("revoke says why: the API shows the reason, the download answers 410 with it, the catalog drops the version", async () => {
    const r = await api("PUT", "/api/v1/box/acme/flow/version/1.0.0/revoke", T, { reason: "CVE-2026-0001 in busybox" });
    expect(r).toMatchObject({ status: 200, json: { status: "revoked", revoked_reason: "CVE-2026-0001 in busybox" } });
    const dl = await http(`${s.url}/acme/flow/1.0.0/libvirt/amd64`, { headers: { Authorization: `Bearer ${READ_TOKEN}` } });
    expect(dl.status).toBe(410);
    expect(JSON.parse(dl.body.toString("utf8")).errors[0]).toMatch(/revoked: CVE-2026-0001 in busybox/);
    expect(lines.at(-1)).toMatch(/^GET \/acme\/flow\/1\.0\.0\/libvirt\/amd64 410 /);
    const v = await api("GET", "/api/v1/box/acme/flow/version/1.0.0", READ_TOKEN);
    expect(v.json).toMatchObject({ status: "revoked", revoked_reason: "CVE-2026-0001 in busybox" });
    expect((await api("PUT", "/api/v1/box/acme/flow/version/1.0.0/revoke", T)).status).toBe(422);
    // Released again: the reason goes.
    expect((await api("PUT", "/api/v1/box/acme/flow/version/1.0.0/release", T)).json).not.toHaveProperty("revoked_reason");
  });

  it("indirect upload, the v2 paths with an architecture (packer-plugin-vagrant), and a checksum promised at create", async () => {
    await api("POST", "/api/v2/box/acme/flow/versions", T, { version: { version: "2.0.0" } });
    const arm = makeBox(tmp.path, "flow-arm", { metadata: { provider: "libvirt", format: "qcow2", virtual_size: 1, architecture: "arm64" } });
    const md5 = createHash("md5").update(readFileSync(arm)).digest("hex");
    const wrong = "0".repeat(32);
    const p = await api("POST", "/api/v2/box/acme/flow/version/2.0.0/providers", T, { provider: { name: "libvirt", architecture: "arm64", checksum: wrong, checksum_type: "md5" } });
    expect(p.status).toBe(200);
    const up = await api("GET", "/api/v2/box/acme/flow/version/2.0.0/provider/libvirt/arm64/upload", T);
    expect(up.json).toHaveProperty("upload_path");
    expect(up.json).not.toHaveProperty("callback");
    const refused = await put(up.json.upload_path as string, arm, { Authorization: `Bearer ${T}`, "Content-Type": "application/json" });
    expect(refused.status).toBe(400);
    expect(String((refused.json.errors as string[])[0])).toContain(`md5 is ${md5}`);
    expect((await api("GET", "/api/v2/box/acme/flow/version/2.0.0", T)).json.providers).toMatchObject([{ uploaded: false }]);
    // The promise corrected: the same URL now takes the box.
    expect((await api("PUT", "/api/v2/box/acme/flow/version/2.0.0/provider/libvirt/arm64", T, { provider: { checksum: md5, checksum_type: "md5" } })).status).toBe(200);
    const ok = await put(up.json.upload_path as string, arm);
    expect(ok).toMatchObject({ status: 200, json: { architecture: "arm64", uploaded: true } });
    const show = await api("GET", "/api/v2/box/acme/flow/version/2.0.0/provider/libvirt/arm64", T);
    expect(show.json).toMatchObject({ architecture: "arm64", download_url: `${s.url}/acme/flow/2.0.0/libvirt/arm64` });
    // Provider delete (Packer's cleanup after a failed run) removes the file.
    expect((await api("DELETE", "/api/v2/box/acme/flow/version/2.0.0/provider/libvirt/arm64", T)).status).toBe(200);
    expect((await api("GET", "/api/v2/box/acme/flow/version/2.0.0/provider/libvirt/arm64", T)).status).toBe(404);
  });

  it("a tampered, forged or withdrawn upload URL is refused, and says so only in the log", async () => {
    await api("POST", "/api/v1/box/acme/flow/versions", T, { version: { version: "3.0.0" } });
    await api("POST", "/api/v1/box/acme/flow/version/3.0.0/providers", T, { provider: { name: "libvirt" } });
    const up = await api("GET", "/api/v1/box/acme/flow/version/3.0.0/provider/libvirt/upload", T);
    const url = up.json.upload_path as string;
    const [prefix, ticket] = [url.slice(0, url.lastIndexOf("/") + 1), url.slice(url.lastIndexOf("/") + 1)];
    const [payload, sig] = ticket.split(".") as [string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, n: "other" })).toString("base64url");
    const file = makeBox(tmp.path, "forged");
    const r1 = await put(`${prefix}${forged}.${sig}`, file);
    expect(r1.status).toBe(403);
    expect(lines.at(-1)).toMatch(/^PUT \/api\/v1\/uploads\/REDACTED 403 the upload ticket's signature matches no current write token$/);
    const expired = Buffer.from(JSON.stringify({ ...claims, x: 1 })).toString("base64url");
    expect((await put(`${prefix}${expired}.${sig}`, file)).status).toBe(403);
    expect(lines.join("\n")).not.toContain(payload);
    expect(existsSync(join(root, "acme", "other"))).toBe(false);
  });

  it("search finds released boxes the asker may read, by text and provider, a page at a time", async () => {
    await api("POST", "/api/v1/boxes", T, { username: "acme", name: "zeta", short_description: "Debian for k8s" });
    const all = await api("GET", "/api/v1/search?q=", READ_TOKEN);
    // Only boxes with a released version: acme/flow (1.0.0 released again above), not the empty acme/zeta.
    expect(Object.keys(all.json)).toEqual(["boxes"]);
    expect((all.json.boxes as { tag: string }[]).map((b) => b.tag)).toEqual(["acme/flow"]);
    expect((await api("GET", "/api/v1/search?q=ALPINE", READ_TOKEN)).json.boxes).toMatchObject([{ tag: "acme/flow", current_version: { version: "1.0.0" } }]);
    expect((await api("GET", "/api/v1/search?q=alpine&provider=virtualbox", READ_TOKEN)).json.boxes).toEqual([]);
    expect((await api("GET", "/api/v1/search?q=alpine&limit=1&page=2", READ_TOKEN)).json.boxes).toEqual([]);
    // Every org here needs a token to read (readTokens): without one, nothing is found.
    expect((await api("GET", "/api/v1/search?q=alpine")).json.boxes).toEqual([]);
  });

  it("refuses what the store cannot keep: external URLs, odd versions, unknown checksum types", async () => {
    const ext = await api("POST", "/api/v1/box/acme/flow/version/3.0.0/providers", T, { provider: { name: "virtualbox", url: "https://example.invalid/x.box" } });
    expect(ext.status).toBe(400);
    expect(String((ext.json.errors as string[])[0])).toMatch(/hosted elsewhere/);
    expect((await api("POST", "/api/v1/box/acme/flow/versions", T, { version: { version: "1.0" } })).status).toBe(400);
    expect((await api("GET", "/api/v1/box/acme/flow/version/v1.0", T)).status).toBe(400);
    expect((await api("POST", "/api/v1/box/acme/flow/version/3.0.0/providers", T, { provider: { name: "vmware_desktop", checksum: "ab", checksum_type: "crc32" } })).status).toBe(400);
    expect((await api("POST", "/api/v1/boxes", T, "not an object")).status).toBe(400);
    expect((await api("GET", "/api/v1/searches", T)).status).toBe(404);
  });

  it("box delete removes the box's files but not a user's file beside them", async () => {
    const dir = join(root, "acme", "flow");
    writeFileSync(join(dir, "README.mine"), "keep me");
    expect((await api("DELETE", "/api/v1/box/acme/flow", T)).status).toBe(200);
    expect(readFileSync(join(dir, "README.mine"), "utf8")).toBe("keep me");
    expect(existsSync(join(dir, "catalog.json"))).toBe(false);
    expect((await api("GET", "/api/v1/box/acme/flow", T)).status).toBe(404);
  });
});

describe("API paths", () => {
  it("parses what the clients send and refuses the rest", () => {
    expect(parseApiPath("/api/v1/box/acme/a/version/1.0.0/provider/libvirt/upload/direct")).toMatchObject({ api: "v1", route: { kind: "upload-direct", provider: "libvirt" } });
    expect(parseApiPath("/api/v2/box/acme/a/version/1.0.0/provider/libvirt/arm64/upload")).toMatchObject({ api: "v2", route: { kind: "upload", architecture: "arm64" } });
    expect(parseApiPath("/api/v2/vagrant/acme/a")).toMatchObject({ route: { kind: "catalog", box: { org: "acme", name: "a" } } });
    expect(parseApiPath("/api/v1/box/acme/a/version/1.0.0/provider/libvirt/sparc/upload")).toMatchObject({ status: 404 });
    expect(parseApiPath("/api/v1/box/ACME/a")).toMatchObject({ status: 404 });
    expect(parseApiPath("/api/v3/box/acme/a")).toMatchObject({ status: 404 });
    expect(parseApiPath("/api/v1/uploads/short")).toMatchObject({ status: 404 });
  });
});

describe("access file", () => {
  const write = (name: string, content: unknown): string => {
    const f = join(tmp.path, name);
    writeFileSync(f, typeof content === "string" ? content : JSON.stringify(content));
    return f;
  };

  it("an old access file keeps its meaning; the scoped list is read and checked", async () => {
    expect(await loadAccessConfig(write("old.json", { writeTokens: [WRITE_TOKEN], readTokens: [READ_TOKEN] }))).toEqual({ writeTokens: [WRITE_TOKEN], readTokens: [READ_TOKEN] });
    const scoped = await loadAccessConfig(write("new.json", { tokens: [{ name: "ci", token: ACME_WRITE, access: "write", orgs: ["acme"] }, { token: ACME_READ, access: "read", orgs: "*" }] }));
    expect(scoped.tokens).toEqual([
      { name: "ci", token: ACME_WRITE, access: "write", orgs: ["acme"] },
      { token: ACME_READ, access: "read", orgs: "*" },
    ]);
    const bad = async (content: unknown): Promise<string> => {
      const err = await loadAccessConfig(write("bad.json", content)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      return (err as Error).message;
    };
    expect(await bad({ tokens: [{ token: ACME_WRITE, access: "admin", orgs: ["acme"] }] })).toMatch(/tokens\[0\]\.access: expected "read" or "write"/);
    expect(await bad({ tokens: [{ token: ACME_WRITE, access: "write", orgs: [] }] })).toMatch(/tokens\[0\]\.orgs/);
    expect(await bad({ tokens: [{ token: ACME_WRITE, access: "write", orgs: ["Acme"] }] })).toMatch(/tokens\[0\]\.orgs/);
    expect(await bad({ tokens: [{ token: "short", access: "write", orgs: ["acme"] }] })).toMatch(/tokens\[0\]\.token: every token must be at least 16/);
    expect(await bad({ tokens: [{ token: ACME_WRITE, access: "write", orgs: ["acme"], scope: "x" }] })).toMatch(/unknown key "scope"/);
    expect(await bad({ users: [] })).toMatch(/unknown key "users"/);
  });
});

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}
