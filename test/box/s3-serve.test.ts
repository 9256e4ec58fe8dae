import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3BoxStore } from "../../src/box/s3-store.js";
import { expectObjectsIntact, listAllKeys, listUploads, needS3, plantObjects, testBucket } from "../support/s3.js";
import { CLI, http as keepAliveHttp, makeBox, tempDir, WRITE_TOKEN } from "./support.js";

/**
 * Several real `homelab box serve --store s3://…` processes (the built CLI) over one bucket on
 * the real radosgw, with no state of their own: concurrent publishes through different servers
 * all land or lose cleanly (409), whichever server is asked lists the same catalog, and a server
 * killed mid-upload leaves nothing a client can see.
 */
const s3 = await needS3();
/**
 * A connection per request: an S3 upload can outlast the server's keep-alive timeout (5 s), and
 * a request sent on a connection the server is closing that moment fails before it arrives.
 */
const http = (url: string, opts: Parameters<typeof keepAliveHttp>[1] = {}) => keepAliveHttp(url, { ...opts, headers: { Connection: "close", ...opts.headers } });
const PREFIX = "shared";

// Uploads of tens of MiB through two servers to radosgw, on a shared 2-core machine: minutes, not seconds.
describe.skipIf(!s3)("box serve processes sharing one S3 bucket", { timeout: 240_000 }, () => {
  const tmp = tempDir("homelab-s3serve-");
  let bucket: Awaited<ReturnType<typeof testBucket>>;
  const servers: { child: ChildProcess; url: string; log: () => string }[] = [];
  const planted: Record<string, string> = { [`${PREFIX}/boxes/acme/node/keep-me.txt`]: "a user's object inside the registry" };

  const serve = async (): Promise<{ child: ChildProcess; url: string; log: () => string }> => {
    const child = spawn(process.execPath, [CLI, "box", "serve", "--store", `s3://${bucket.name}/${PREFIX}`, "--s3-endpoint", s3!.endpoint, "--port", "0"], {
      env: { ...process.env, HOMELAB_REGISTRY_WRITE_TOKENS: WRITE_TOKEN, AWS_ACCESS_KEY_ID: s3!.accessKeyId, AWS_SECRET_ACCESS_KEY: s3!.secretAccessKey, AWS_EC2_METADATA_DISABLED: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on("exit", (code) => reject(new Error(`serve exited early (${code}): ${out}${err}`)));
    });
    const s = { child, url, log: () => err };
    servers.push(s);
    return s;
  };

  beforeAll(async () => {
    bucket = await testBucket(s3!, "serve");
    await plantObjects(bucket.client, bucket.name, planted);
  });
  afterAll(async () => {
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGTERM");
    await Promise.all(servers.map((s) => (s.child.exitCode !== null || s.child.signalCode !== null ? undefined : new Promise((r) => s.child.once("exit", r)))));
    await bucket?.cleanup();
    tmp.cleanup();
  });

  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const put = (base: string, path: string, body: Buffer) =>
    http(`${base}${path}`, { method: "PUT", body, headers: { Authorization: `Bearer ${WRITE_TOKEN}`, "Content-Length": String(body.length) } });
  const catalogOf = async (base: string) => JSON.parse((await http(`${base}/acme/node`)).body.toString()) as { versions: { version: string; providers: { checksum: string; url: string }[] }[] };
  const blobsOf = async (version: string) => (await listAllKeys(bucket.client, bucket.name, `${PREFIX}/boxes/acme/node/blobs/${version}/`)).length;

  it("takes concurrent publishes of different versions of one box through two servers: every version survives and both servers list all", async () => {
    const [a, b] = await Promise.all([serve(), serve()]);
    // 20 MiB each: multipart uploads (16 MiB parts) that overlap in time.
    const boxes = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"].map((v) => ({ v, data: readFileSync(makeBox(tmp.path, `v${v}`, { imageBytes: 20 << 20, gzip: false })) }));
    const results = await Promise.all(boxes.map(({ v, data }, i) => put(i % 2 === 0 ? a!.url : b!.url, `/acme/node/${v}/libvirt/amd64`, data)));
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    for (const s of [a!, b!]) {
      const catalog = await catalogOf(s.url);
      expect(catalog.versions.map((v) => v.version)).toEqual(["1.0.0", "1.1.0", "1.2.0", "1.3.0"]);
      expect(catalog.versions.map((v) => v.providers[0]!.checksum)).toEqual(boxes.map((x) => sha(x.data)));
      expect(catalog.versions[0]!.providers[0]!.url.startsWith(s.url)).toBe(true);
    }
    // A version published through one server downloads byte for byte from the other.
    const got = await http(`${b!.url}/acme/node/1.0.0/libvirt/amd64`);
    expect(sha(got.body)).toBe(sha(boxes[0]!.data));
  });

  it("takes the same version+provider+architecture through both servers at once: exactly one wins, the other gets 409", async () => {
    const [a, b] = servers;
    for (const version of ["2.0.0", "2.1.0", "2.2.0"]) {
      const first = readFileSync(makeBox(tmp.path, `a${version}`, { imageBytes: 1 << 20 }));
      const second = readFileSync(makeBox(tmp.path, `b${version}`, { imageBytes: 1 << 20 }));
      const [ra, rb] = await Promise.all([put(a!.url, `/acme/node/${version}/libvirt/amd64`, first), put(b!.url, `/acme/node/${version}/libvirt/amd64`, second)]);
      expect([ra.status, rb.status].sort()).toEqual([201, 409]);
      const winner = ra.status === 201 ? first : second;
      const loser = ra.status === 201 ? rb : ra;
      expect(JSON.parse(loser.body.toString()).error).toMatch(new RegExp(`acme/node@${version.replace(/\./g, "\\.")}/libvirt/amd64 is already published`));
      for (const s of [a!, b!]) {
        const entry = (await catalogOf(s.url)).versions.find((v) => v.version === version)!;
        expect(entry.providers.map((p) => p.checksum)).toEqual([sha(winner)]);
      }
      expect(sha((await http(`${a!.url}/acme/node/${version}/libvirt/amd64`)).body)).toBe(sha(winner));
      // The loser removed its own box file: one object for the version.
      expect(await blobsOf(version)).toBe(1);
    }
  });

  it("a server killed mid-upload leaves nothing visible (no version, no object); its unfinished upload is ours to sweep", async () => {
    const victim = await serve();
    const box = readFileSync(makeBox(tmp.path, "killed", { imageBytes: 40 << 20, gzip: false }));
    const sock = connect(Number(new URL(victim.url).port), "127.0.0.1");
    sock.on("error", () => {});
    await new Promise((r) => sock.once("connect", r));
    sock.write(`PUT /acme/node/3.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: ${box.length}\r\n\r\n`);
    sock.write(box.subarray(0, 36 << 20));
    // Wait until at least one part is up, then kill the server outright.
    for (let i = 0; i < 200 && (await listUploads(bucket.client, bucket.name)).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    victim.child.kill("SIGKILL");
    await new Promise((r) => victim.child.once("exit", r));
    sock.destroy();

    const catalog = await catalogOf(servers[0]!.url);
    expect(catalog.versions.map((v) => v.version)).not.toContain("3.0.0");
    expect(await blobsOf("3.0.0")).toBe(0);
    expect((await http(`${servers[0]!.url}/acme/node/3.0.0/libvirt/amd64`)).status).toBe(404);
    const left = await listUploads(bucket.client, bucket.name);
    expect(left).toHaveLength(1);
    expect(left[0]!.key).toMatch(new RegExp(`^${PREFIX}/boxes/acme/node/blobs/3\\.0\\.0/[0-9a-f]{32}\\.box$`));
    const store = await S3BoxStore.open({ bucket: bucket.name, prefix: `${PREFIX}/`, endpoint: s3!.endpoint, region: s3!.region, credentials: s3! });
    try {
      expect(await store.sweepAbandonedUploads(0)).toEqual([left[0]!.key]);
    } finally {
      store.destroy();
    }
    expect(await listUploads(bucket.client, bucket.name)).toEqual([]);
  });

  it("a client that goes away mid-upload: the server aborts the multipart upload and logs it", async () => {
    const [a] = servers;
    const box = readFileSync(makeBox(tmp.path, "gone", { imageBytes: 40 << 20, gzip: false }));
    const sock = connect(Number(new URL(a!.url).port), "127.0.0.1");
    sock.on("error", () => {});
    await new Promise((r) => sock.once("connect", r));
    sock.write(`PUT /acme/node/4.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: ${box.length}\r\n\r\n`);
    sock.write(box.subarray(0, 36 << 20));
    for (let i = 0; i < 200 && (await listUploads(bucket.client, bucket.name)).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await listUploads(bucket.client, bucket.name)).toHaveLength(1);
    sock.destroy();
    for (let i = 0; i < 100 && (await listUploads(bucket.client, bucket.name)).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await listUploads(bucket.client, bucket.name)).toEqual([]);
    expect(await blobsOf("4.0.0")).toBe(0);
    // Node reports a body cut short of its Content-Length as a malformed request.
    expect(a!.log()).toMatch(/PUT \/acme\/node\/4\.0\.0\/libvirt\/amd64 aborted: /);
  });

  it("left the user's object in the registry's prefix as it was", async () => {
    await expectObjectsIntact(bucket.client, bucket.name, planted);
  });
});
