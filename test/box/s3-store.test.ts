import { CreateMultipartUploadCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { S3BoxStore } from "../../src/box/s3-store.js";
import { expectObjectsIntact, listAllKeys, listUploads, needS3, plantObjects, testBucket } from "../support/s3.js";
import { http as keepAliveHttp, makeBox, tempDir, WRITE_TOKEN } from "./support.js";

/**
 * The S3 box store behind `box serve`, against the real radosgw (.ci/run starts it): what a
 * client sees is what the directory store gives (catalog, bytes, sha256, Range/ETag, 409, 413),
 * and what is left in the bucket is only what the catalog names, plus whatever the user put there.
 */
const s3 = await needS3();
/**
 * A connection per request: an S3 upload can outlast the server's keep-alive timeout (5 s), and
 * a request sent on a connection the server is closing that moment fails before it arrives.
 */
const http = (url: string, opts: Parameters<typeof keepAliveHttp>[1] = {}) => keepAliveHttp(url, { ...opts, headers: { Connection: "close", ...opts.headers } });
const PREFIX = "reg/";
const PART = 5 << 20; // S3's smallest part: a 12 MiB box is a multipart upload of three parts

describe.skipIf(!s3)("S3 store behind box serve", { timeout: 180_000 }, () => {
  const tmp = tempDir("homelab-s3-");
  let bucket: Awaited<ReturnType<typeof testBucket>>;
  let store: S3BoxStore;
  let server: RegistryServer;
  const log: string[] = [];
  // A user's objects: beside ours, inside our box's prefix, and at a key where a record of ours would go.
  const planted: Record<string, string> = {
    "README.txt": "the bucket's own readme",
    [`${PREFIX}notes.txt`]: "notes beside the registry",
    [`${PREFIX}boxes/acme/node/blobs/1.0.0/user-file.box`]: "a user's file among our box files",
    [`${PREFIX}boxes/acme/node/versions/1.0.0/providers/libvirt/notes.json`]: "{\"mine\": true}",
    [`${PREFIX}boxes/acme/node/versions/9.9.9/providers/libvirt/amd64.json`]: "{\"not\": \"a homelab record\"}",
  };

  beforeAll(async () => {
    bucket = await testBucket(s3!, "store");
    await plantObjects(bucket.client, bucket.name, planted);
    store = await S3BoxStore.open({ bucket: bucket.name, prefix: PREFIX, endpoint: s3!.endpoint, region: s3!.region, credentials: s3!, partSize: PART });
    server = await startRegistryServer({ backend: store, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [], log: (l) => log.push(l), maxUploadBytes: 20 << 20 });
  });
  afterAll(async () => {
    await server?.close({ graceMs: 1000 });
    store?.destroy();
    await bucket?.cleanup();
    tmp.cleanup();
  });

  const put = (path: string, body: Buffer) => http(`${server.url}${path}`, { method: "PUT", body, headers: { Authorization: `Bearer ${WRITE_TOKEN}`, "Content-Length": String(body.length) } });
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const ourKeys = async () => (await listAllKeys(bucket.client, bucket.name, PREFIX)).filter((k) => !(k in planted));

  it("publishes over HTTP (a multipart upload), lists it in the catalog, and serves the very bytes with ETag, Range and If-Range", async () => {
    const box = readFileSync(makeBox(tmp.path, "one", { imageBytes: 12 << 20, gzip: false }));
    const res = await put("/acme/node/1.0.0/libvirt/amd64", box);
    expect(res.status, res.body.toString()).toBe(201);
    expect(JSON.parse(res.body.toString())).toMatchObject({ box: "acme/node", version: "1.0.0", provider: "libvirt", architecture: "amd64", checksum: sha(box), size: box.length, replaced: false, defaultArchitecture: true });

    const catalog = JSON.parse((await http(`${server.url}/acme/node`)).body.toString());
    expect(catalog).toEqual({
      name: "acme/node",
      description: "",
      versions: [{ version: "1.0.0", providers: [{ name: "libvirt", url: `${server.url}/acme/node/1.0.0/libvirt/amd64`, checksum_type: "sha256", checksum: sha(box), architecture: "amd64", default_architecture: true, size: box.length }] }],
    });
    const url = `${server.url}/acme/node/1.0.0/libvirt/amd64`;
    const full = await http(url);
    expect(full.status).toBe(200);
    expect(full.headers["content-length"]).toBe(String(box.length));
    expect(sha(full.body)).toBe(sha(box));
    expect(full.headers.etag).toBe(`"${sha(box)}"`);
    const part = await http(url, { headers: { Range: "bytes=1000-1999" } });
    expect(part.status).toBe(206);
    expect(part.headers["content-range"]).toBe(`bytes 1000-1999/${box.length}`);
    expect(part.body.equals(box.subarray(1000, 2000))).toBe(true);
    const tail = await http(url, { headers: { Range: "bytes=-10" } });
    expect(tail.body.equals(box.subarray(box.length - 10))).toBe(true);
    expect((await http(url, { headers: { Range: "bytes=100-199", "If-Range": `"${sha(box)}"` } })).status).toBe(206);
    const stale = await http(url, { headers: { Range: "bytes=100-199", "If-Range": '"something-else"' } });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(box.length);
    expect((await http(url, { headers: { "If-None-Match": `"${sha(box)}"` } })).status).toBe(304);
    expect((await http(url, { headers: { Range: `bytes=${box.length}-` } })).status).toBe(416);
    expect((await http(`${server.url}/acme/node/1.0.0/libvirt/arm64`)).status).toBe(404);
    // One record and one box file: the multipart upload completed and left nothing else.
    expect(await ourKeys()).toEqual([expect.stringMatching(/^reg\/boxes\/acme\/node\/blobs\/1\.0\.0\/[0-9a-f]{32}\.box$/), "reg/boxes/acme/node/versions/1.0.0/providers/libvirt/amd64.json"]);
    expect(await listUploads(bucket.client, bucket.name)).toEqual([]);
  });

  it("refuses the same version+provider+architecture (409) and replaces it with force=1, removing the old box file", async () => {
    const again = readFileSync(makeBox(tmp.path, "again"));
    const res = await put("/acme/node/1.0.0/libvirt/amd64", again);
    expect(res.status).toBe(409);
    const before = await ourKeys();
    const forced = await put("/acme/node/1.0.0/libvirt/amd64?force=1", again);
    expect(forced.status, forced.body.toString()).toBe(200);
    expect(JSON.parse(forced.body.toString())).toMatchObject({ replaced: true, checksum: sha(again) });
    const after = await ourKeys();
    expect(after).toHaveLength(2);
    expect(after.filter((k) => k.includes("/blobs/"))).not.toEqual(before.filter((k) => k.includes("/blobs/")));
    expect(sha((await http(`${server.url}/acme/node/1.0.0/libvirt/amd64`)).body)).toBe(sha(again));
  });

  it("derives the default architecture without a shared object: the first published, until another asks to be it", async () => {
    expect((await put("/acme/multi/2.0.0/libvirt/amd64", readFileSync(makeBox(tmp.path, "amd")))).status).toBe(201);
    expect((await put("/acme/multi/2.0.0/libvirt/arm64", readFileSync(makeBox(tmp.path, "arm")))).status).toBe(201);
    const defaults = async () =>
      Object.fromEntries((await store.readCatalog({ org: "acme", name: "multi" }))!.versions[0]!.providers.map((p) => [p.architecture, p.default_architecture]));
    expect(await defaults()).toEqual({ amd64: true, arm64: false });
    const res = await put("/acme/multi/2.0.0/libvirt/i386?default_architecture=1", readFileSync(makeBox(tmp.path, "i386")));
    expect(JSON.parse(res.body.toString())).toMatchObject({ defaultArchitecture: true });
    expect(await defaults()).toEqual({ amd64: false, arm64: false, i386: true });
    // Vagrant 2.3 keeps the last entry of a provider name: the default comes last.
    expect((await store.readCatalog({ org: "acme", name: "multi" }))!.versions[0]!.providers.at(-1)!.architecture).toBe("i386");
  });

  it("a box that fails its checks after a multipart upload leaves no object and no unfinished upload (400)", async () => {
    const before = await ourKeys();
    const notABox = readFileSync(makeBox(tmp.path, "nometa", { metadata: null, imageBytes: 12 << 20, gzip: false }));
    const res = await put("/acme/node/3.0.0/libvirt/amd64", notABox);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString()).error).toMatch(/metadata\.json/);
    expect(await ourKeys()).toEqual(before);
    expect(await listUploads(bucket.client, bucket.name)).toEqual([]);
  });

  it("an upload over the size limit is cut mid-stream (413): its parts are aborted, nothing is stored", async () => {
    const before = await ourKeys();
    const big = readFileSync(makeBox(tmp.path, "big", { imageBytes: 24 << 20, gzip: false }));
    // Announced as smaller (chunked, no Content-Length), so the limit is found while streaming, after parts went up.
    const res = await new Promise<number | "reset">((resolve) => {
      const req = request(`${server.url}/acme/node/4.0.0/libvirt/amd64`, { method: "PUT", agent: false, headers: { Authorization: `Bearer ${WRITE_TOKEN}` } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      // The server answers and then cuts the connection while the client is still sending: on a
      // loaded machine the reset can reach the client before the answer does. The log tells.
      req.on("error", () => resolve("reset"));
      req.end(big);
    });
    expect([413, "reset"]).toContain(res);
    // The server logs once it is done with the upload (its parts aborted); the client may hear first.
    const logged = (l: string) => /^PUT \/acme\/node\/4\.0\.0\/libvirt\/amd64 (413 |aborted: the upload is larger)/.test(l);
    for (let i = 0; i < 100 && !log.some(logged); i++) await new Promise((r) => setTimeout(r, 100));
    expect(log.some(logged), log.join("\n")).toBe(true);
    expect(await ourKeys()).toEqual(before);
    expect(await listUploads(bucket.client, bucket.name)).toEqual([]);
  });

  it("DELETE removes the record, then the box file; the catalog is gone with its last version", async () => {
    const del = await http(`${server.url}/acme/multi/2.0.0/libvirt/arm64`, { method: "DELETE", headers: { Authorization: `Bearer ${WRITE_TOKEN}` } });
    expect(del.status).toBe(200);
    expect((await store.readCatalog({ org: "acme", name: "multi" }))!.versions[0]!.providers.map((p) => p.architecture)).toEqual(["amd64", "i386"]);
    expect((await http(`${server.url}/acme/multi/2.0.0`, { method: "DELETE", headers: { Authorization: `Bearer ${WRITE_TOKEN}` } })).status).toBe(200);
    expect((await http(`${server.url}/acme/multi`)).status).toBe(404);
    expect((await ourKeys()).filter((k) => k.includes("acme/multi"))).toEqual([]);
    expect((await http(`${server.url}/acme/multi/2.0.0`, { method: "DELETE", headers: { Authorization: `Bearer ${WRITE_TOKEN}` } })).status).toBe(404);
  });

  it("an object homelab did not write at a record's key is never read as a record, replaced, or removed", async () => {
    const catalog = (await store.readCatalog({ org: "acme", name: "node" }))!;
    expect(catalog.versions.map((v) => v.version)).toEqual(["1.0.0"]); // 9.9.9 is not ours
    const box = readFileSync(makeBox(tmp.path, "taken"));
    expect((await put("/acme/node/9.9.9/libvirt/amd64", box)).status).toBe(409);
    const forced = await put("/acme/node/9.9.9/libvirt/amd64?force=1", box);
    expect(forced.status).toBe(409);
    expect(JSON.parse(forced.body.toString()).error).toMatch(/not a record homelab wrote/);
    expect((await http(`${server.url}/acme/node/9.9.9`, { method: "DELETE", headers: { Authorization: `Bearer ${WRITE_TOKEN}` } })).status).toBe(404);
  });

  it("the sweep aborts our abandoned multipart uploads and leaves a user's unfinished upload alone", async () => {
    const ours = `${PREFIX}boxes/acme/node/blobs/5.0.0/${randomBytes(16).toString("hex")}.box`;
    const theirs = `${PREFIX}boxes/acme/node/blobs/5.0.0/their-upload.iso`;
    for (const Key of [ours, theirs]) {
      const { UploadId } = await bucket.client.send(new CreateMultipartUploadCommand({ Bucket: bucket.name, Key }));
      await bucket.client.send(new UploadPartCommand({ Bucket: bucket.name, Key, UploadId, PartNumber: 1, Body: "part" }));
    }
    expect(await store.sweepAbandonedUploads(60 * 60_000)).toEqual([]); // young: another server may be writing it
    expect(await store.sweepAbandonedUploads(0)).toEqual([ours]);
    expect((await listUploads(bucket.client, bucket.name)).map((u) => u.key)).toEqual([theirs]);
  });

  it("every operation above left the user's objects as they were", async () => {
    await expectObjectsIntact(bucket.client, bucket.name, planted);
    // And a request log line for each failure, as for the directory store.
    expect(log.some((l) => /^PUT \/acme\/node\/1\.0\.0\/libvirt\/amd64 409 /.test(l))).toBe(true);
    expect(log.some((l) => /^PUT \/acme\/node\/4\.0\.0\/libvirt\/amd64 (413 |aborted: the upload is larger)/.test(l)), log.join("\n")).toBe(true);
  });
});
