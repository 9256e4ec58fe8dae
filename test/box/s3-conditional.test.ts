import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, UploadPartCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { needS3, testBucket } from "../support/s3.js";

/**
 * What the real S3 server (radosgw from Debian's ceph packages, started by .ci/run) does with
 * conditional writes: the measurement the S3 store's design rests on (s3-layout.ts). Each case
 * prints its outcome as `s3-conditional: ...` lines, and asserts it.
 */
const s3 = await needS3();

describe.skipIf(!s3)("conditional writes on the real S3 server", () => {
  let bucket: Awaited<ReturnType<typeof testBucket>>;
  let client: S3Client;
  beforeAll(async () => {
    bucket = await testBucket(s3!, "cond");
    client = bucket.client;
  });
  afterAll(async () => bucket?.cleanup());

  const put = (key: string, body: string, cond: { IfNoneMatch?: string; IfMatch?: string } = {}) =>
    client.send(new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: body, ...cond })).then(
      () => 200,
      (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode ?? -1,
    );
  const get = async (key: string) => (await client.send(new GetObjectCommand({ Bucket: bucket.name, Key: key }))).Body!.transformToString();
  const etag = async (key: string) => (await client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key }))).ETag!;

  it("If-None-Match: * creates a new key (200) and refuses an existing one (412) without touching it", async () => {
    expect(await put("a", "first", { IfNoneMatch: "*" })).toBe(200);
    expect(await put("a", "second", { IfNoneMatch: "*" })).toBe(412);
    expect(await get("a")).toBe("first");
    console.log("s3-conditional: If-None-Match:* new key 200, existing key 412 (body kept)");
  });

  it("If-None-Match: * under a race of 24 writers to one key: exactly one wins, and its body is the one stored", async () => {
    const bodies = Array.from({ length: 24 }, (_, i) => `writer-${i}`);
    const statuses = await Promise.all(bodies.map((b) => put("race", b, { IfNoneMatch: "*" })));
    const winners = statuses.flatMap((s, i) => (s === 200 ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(23);
    expect(await get("race")).toBe(bodies[winners[0]!]);
    console.log(`s3-conditional: 24 racing If-None-Match:* writers: 1 x 200, ${statuses.filter((s) => s === 412).length} x 412`);
  });

  it("If-Match (compare-and-swap) works with the ETag unquoted; a stale ETag gets 412; radosgw refuses the quoted form", async () => {
    expect(await put("cas", "v1")).toBe(200);
    const e1 = await etag("cas");
    const quoted = await put("cas", "v2-quoted", { IfMatch: e1 });
    const unquoted = await put("cas", "v2", { IfMatch: e1.replace(/^"|"$/g, "") });
    console.log(`s3-conditional: If-Match quoted ETag ${quoted}, unquoted ${unquoted}`);
    expect(unquoted).toBe(200);
    expect(quoted).toBe(412);
    expect(await get("cas")).toBe("v2");
    expect(await put("cas", "v3", { IfMatch: e1.replace(/^"|"$/g, "") })).toBe(412); // stale
    expect(await get("cas")).toBe("v2");
  });

  it("CompleteMultipartUpload ignores If-None-Match: a multipart upload overwrites an existing key (so box files get keys of their own)", async () => {
    expect(await put("mp", "existing")).toBe(200);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: "mp" }));
    const part = await client.send(new UploadPartCommand({ Bucket: bucket.name, Key: "mp", UploadId, PartNumber: 1, Body: "multipart body" }));
    const status = await client
      .send(new CompleteMultipartUploadCommand({ Bucket: bucket.name, Key: "mp", UploadId, IfNoneMatch: "*", MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }))
      .then(
        () => 200,
        (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode ?? -1,
      );
    const body = await get("mp");
    console.log(`s3-conditional: CompleteMultipartUpload with If-None-Match:* on an existing key: ${status}, body now ${JSON.stringify(body)}`);
    expect(status).toBe(200);
    expect(body).toBe("multipart body");
  });

  it("a read-modify-write counter with If-Match and retries loses no update across two clients", async () => {
    expect(await put("counter", "0")).toBe(200);
    const bump = async (): Promise<number> => {
      for (let tries = 1; ; tries++) {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket.name, Key: "counter" }));
        const n = Number(await res.Body!.transformToString());
        const status = await put("counter", String(n + 1), { IfMatch: res.ETag!.replace(/^"|"$/g, "") });
        if (status === 200) return tries;
        expect([412, 500]).toContain(status); // radosgw: a lost race is 412, now and then 500 "operation cancelled"
      }
    };
    const worker = async () => {
      let tries = 0;
      for (let i = 0; i < 15; i++) tries += await bump();
      return tries;
    };
    const tries = await Promise.all([worker(), worker()]);
    expect(await get("counter")).toBe("30");
    console.log(`s3-conditional: If-Match counter, 2 x 15 increments: 30 kept, ${tries[0]! + tries[1]! - 30} retries`);
  });
});
