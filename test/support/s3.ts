import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { expect } from "vitest";

/**
 * The real S3-compatible server the S3 tests run against: Ceph radosgw started by
 * `scripts/s3-server.sh start DIR` (`.ci/run` does it before `npm test`), found through the env
 * file it writes (`. DIR/env`). The tests do not start it themselves: a cluster takes ~10 s to
 * create and belongs to the run, not to one test file.
 *
 * Missing or not answering: under CI=true that is a failure (CI must have started it; a silent
 * skip would hide a broken .ci/run); elsewhere the tests are skipped with the reason.
 */
// The SDK warns on Node < 22 about its releases after January 2027; the pinned one runs on Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

export interface S3TestEnv {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: "us-east-1";
}

export async function needS3(): Promise<S3TestEnv | undefined> {
  const endpoint = process.env.HOMELAB_TEST_S3_ENDPOINT;
  const accessKeyId = process.env.HOMELAB_TEST_S3_ACCESS_KEY;
  const secretAccessKey = process.env.HOMELAB_TEST_S3_SECRET_KEY;
  const fail = (why: string): undefined => {
    if (process.env.CI === "true") throw new Error(`the S3 test server ${why} (CI=true: tests may not skip; .ci/run starts it with scripts/s3-server.sh)`);
    console.warn(`skipping S3 tests: the S3 test server ${why} (run: scripts/s3-server.sh start /tmp/s3 && . /tmp/s3/env)`);
    return undefined;
  };
  if (!endpoint || !accessKeyId || !secretAccessKey) return fail("is not configured (HOMELAB_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY)");
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(endpoint)) return fail(`endpoint must be on loopback (http://127.0.0.1:PORT), got ${endpoint}`);
  if (!(await answers(endpoint))) return fail(`does not answer at ${endpoint}`);
  return { endpoint, accessKeyId, secretAccessKey, region: "us-east-1" };
}

/** An SDK client for the test's own checks (the store makes its own). */
export function testClient(s3: S3TestEnv): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** A fresh bucket for one test file; `cleanup` empties it (objects and unfinished uploads) and removes it. */
export async function testBucket(s3: S3TestEnv, label: string): Promise<{ name: string; client: S3Client; cleanup: () => Promise<void> }> {
  const client = testClient(s3);
  const name = `homelab-${label}-${randomBytes(4).toString("hex")}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return {
    name,
    client,
    cleanup: async () => {
      for (const key of await listAllKeys(client, name)) await client.send(new DeleteObjectCommand({ Bucket: name, Key: key }));
      for (const u of await listUploads(client, name)) await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: u.key, UploadId: u.uploadId }));
      await client.send(new DeleteBucketCommand({ Bucket: name })).catch(() => {});
      client.destroy();
    },
  };
}

export async function listAllKeys(client: S3Client, bucket: string, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** Unfinished multipart uploads (ListMultipartUploads): what a failed upload must not leave. */
export async function listUploads(client: S3Client, bucket: string): Promise<{ key: string; uploadId: string }[]> {
  const res = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (res.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! }));
}

function answers(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(endpoint, { method: "GET", timeout: 3000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

/** Objects a user put in the bucket (key → body), planted before homelab runs and checked after. */
export async function plantObjects(client: S3Client, bucket: string, tree: Record<string, string>): Promise<void> {
  for (const [key, body] of Object.entries(tree)) await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** Every planted object is still there with the very same bytes. */
export async function expectObjectsIntact(client: S3Client, bucket: string, tree: Record<string, string>): Promise<void> {
  for (const [key, body] of Object.entries(tree)) {
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then(
      (r) => r.Body!.transformToString(),
      (err: { name?: string }) => `<${err.name ?? "error"}>`,
    );
    expect(got, `${key} was removed or replaced`).toBe(body);
  }
}
