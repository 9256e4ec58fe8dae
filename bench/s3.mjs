// bench/s3: the S3 box store against the S3 server's own speed, measured in the same run.
//   publish: PUT of a box to `box serve --store s3://…` (hash + inspect + multipart upload)
//            vs the SDK's own multipart upload of the same file (lib-storage, same part size);
//   download: GET through `box serve` (streamed from S3) and through its redirect to a
//            presigned URL, vs the SDK's own GetObject of the same object.
// Prints MiB/s and ratios (ours / baseline). Needs a running S3 server: scripts/s3-server.sh
// start DIR && . DIR/env (HOMELAB_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY). The bucket it
// makes is removed at the end.
//   npm run build && node bench/s3.mjs [--mib N] [--runs N]
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { randomBytes } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { REPO, makeBox, median, tempDir } from "./common.mjs";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const { startRegistryServer } = await import(join(REPO, "dist/box/server.js"));
const { S3BoxStore } = await import(join(REPO, "dist/box/s3-store.js"));

const argv = process.argv.slice(2);
const mib = Number(argv[argv.indexOf("--mib") + 1] || 1024) || 1024;
const runs = Number(argv[argv.indexOf("--runs") + 1] || 3) || 3;
const endpoint = process.env.HOMELAB_TEST_S3_ENDPOINT;
const credentials = { accessKeyId: process.env.HOMELAB_TEST_S3_ACCESS_KEY, secretAccessKey: process.env.HOMELAB_TEST_S3_SECRET_KEY };
if (!endpoint || !credentials.accessKeyId || !credentials.secretAccessKey) {
  console.error("bench/s3: start the S3 server first: scripts/s3-server.sh start /tmp/s3 && . /tmp/s3/env");
  process.exit(2);
}
const TOKEN = randomBytes(16).toString("hex");
const PART = 16 << 20;

const dir = tempDir();
console.log(`making a ${mib} MiB box in ${dir} ...`);
const file = makeBox(dir, "big", mib);
const size = statSync(file).size;
const client = new S3Client({ endpoint, region: "us-east-1", credentials, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
const bucket = `homelab-bench-${randomBytes(4).toString("hex")}`;
await client.send(new CreateBucketCommand({ Bucket: bucket }));

const opts = { bucket, prefix: "bench/", endpoint, region: "us-east-1", credentials };
const streaming = await S3BoxStore.open(opts);
const redirecting = await S3BoxStore.open({ ...opts, downloads: "redirect" });
const serve = await startRegistryServer({ backend: streaming, port: 0, writeTokens: [TOKEN], readTokens: [] });
const redirect = await startRegistryServer({ backend: redirecting, port: 0, writeTokens: [TOKEN], readTokens: [] });

const secs = async (fn) => {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
const drain = (stream) => new Promise((res, rej) => stream.on("data", () => {}).on("end", res).on("error", rej));
/** GET (following one redirect), reading the body to the end. */
const get = (url) =>
  new Promise((res, rej) => {
    request(url, { agent: false }, (r) => {
      if (r.statusCode === 302) {
        r.resume();
        return get(r.headers.location).then(res, rej);
      }
      if (r.statusCode !== 200) return rej(new Error(`GET ${url}: ${r.statusCode}`));
      drain(r).then(res, rej);
    })
      .on("error", rej)
      .end();
  });
const put = (url) =>
  new Promise((res, rej) => {
    const req = request(url, { method: "PUT", agent: false, headers: { Authorization: `Bearer ${TOKEN}`, "Content-Length": size } }, (r) => {
      r.resume();
      r.on("end", () => (r.statusCode === 201 || r.statusCode === 200 ? res() : rej(new Error(`PUT ${url}: ${r.statusCode}`))));
    });
    req.on("error", rej);
    createReadStream(file, { highWaterMark: 1 << 20 }).pipe(req);
  });

const t = { sdkUp: [], oursUp: [], sdkGet: [], oursGet: [], redirectGet: [] };
for (let i = 0; i < runs; i++) {
  const key = `baseline/${i}.box`;
  t.sdkUp.push(await secs(() => new Upload({ client, params: { Bucket: bucket, Key: key, Body: createReadStream(file, { highWaterMark: 1 << 20 }) }, partSize: PART, queueSize: 4 }).done()));
  t.oursUp.push(await secs(() => put(`${serve.url}/bench/box/1.0.${i}/libvirt/amd64`)));
  t.sdkGet.push(await secs(async () => drain((await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body)));
  t.oursGet.push(await secs(() => get(`${serve.url}/bench/box/1.0.${i}/libvirt/amd64`)));
  t.redirectGet.push(await secs(() => get(`${redirect.url}/bench/box/1.0.${i}/libvirt/amd64`)));
}

const rate = (s) => (size / 1048576 / s).toFixed(0);
const line = (what, ours, base) => console.log(`${what.padEnd(36)} ${rate(median(ours)).padStart(5)} MiB/s vs ${rate(median(base)).padStart(5)} MiB/s  ratio ${(median(base) / median(ours)).toFixed(2)}x`);
console.log(`box ${mib} MiB, ${runs} runs, medians (ratio: ours / baseline throughput)`);
line("publish through box serve vs SDK upload", t.oursUp, t.sdkUp);
line("download streamed by box serve vs SDK", t.oursGet, t.sdkGet);
line("download redirected (presigned) vs SDK", t.redirectGet, t.sdkGet);

await serve.close({ graceMs: 1000 });
await redirect.close({ graceMs: 1000 });
streaming.destroy();
redirecting.destroy();
for (;;) {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const o of page.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
  if (!page.IsTruncated) break;
}
await client.send(new DeleteBucketCommand({ Bucket: bucket }));
client.destroy();
