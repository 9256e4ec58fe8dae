import { CreateMultipartUploadCommand, DeleteObjectCommand, PutObjectCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fsckS3Registry } from "../../src/box/s3-fsck.js";
import { S3BoxStore } from "../../src/box/s3-store.js";
import { expectObjectsIntact, listAllKeys, listUploads, needS3, plantObjects, testBucket } from "../support/s3.js";
import { CLI, makeBox, runCli, tempDir } from "./support.js";

/**
 * Issue 14, item 4: `homelab box publish|list|release|revoke|rm|fsck --store s3://…` work on the
 * bucket directly, as they work on `--registry DIR` (the same output and exit codes, checked
 * side by side), against the real radosgw, with a real `box serve --store` on the same bucket
 * and real curl reading what they did. Objects a user put in the bucket survive every command.
 */
const s3 = await needS3();
const PREFIX = "reg";
const hex = (n: number): string => randomBytes(n).toString("hex");

describe.skipIf(!s3)("homelab box commands on an S3 store", { timeout: 240_000 }, () => {
  const tmp = tempDir("homelab-s3cli-");
  let bucket: Awaited<ReturnType<typeof testBucket>>;
  let server: ChildProcess | undefined;
  let serverUrl = "";
  // A user's objects: outside the prefix with our very names, and inside it with names close to ours.
  const planted: Record<string, string> = {};
  const env = (): NodeJS.ProcessEnv => ({ AWS_ACCESS_KEY_ID: s3!.accessKeyId, AWS_SECRET_ACCESS_KEY: s3!.secretAccessKey, AWS_EC2_METADATA_DISABLED: "true" });
  const store = (): string[] => ["--store", `s3://${bucket.name}/${PREFIX}`, "--s3-endpoint", s3!.endpoint];
  const cli = (args: string[]) => runCli(args, { env: env() });
  const onBoth = async (args: string[], dir: string) => ({ s3: await cli([...args, ...store()]), dir: await cli([...args, "--registry", dir]) });
  const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
  const curl = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => execFile("curl", ["-sS", ...args], { encoding: "latin1", maxBuffer: 64 << 20 }, (err, out) => resolve({ code: err ? Number(err.code) : 0, out })));
  const catalog = async (): Promise<{ versions: { version: string; providers: { url: string; checksum: string }[] }[] }> => {
    const got = await curl(["-f", "-H", "Accept: application/json", `${serverUrl}/acme/node`]);
    return got.code === 0 ? JSON.parse(got.out) : { versions: [] };
  };
  const intact = () => expectObjectsIntact(bucket.client, bucket.name, planted);

  beforeAll(async () => {
    bucket = await testBucket(s3!, "cli");
    const blob = hex(16);
    Object.assign(planted, {
      [`elsewhere/boxes/acme/node/blobs/1.0.0/${blob}.box`]: "a user's object outside the prefix, named as ours",
      [`elsewhere/boxes/acme/node/versions/9.9.9/providers/libvirt/amd64.json`]: "{}",
      [`${PREFIX}-other/boxes/acme/node/blobs/1.0.0/${hex(16)}.box`]: "beside the prefix",
      [`${PREFIX}/boxes/acme/node/keep-me.txt`]: "inside the prefix",
      [`${PREFIX}/boxes/acme/node/blobs/1.0.0/${blob}.box.bak`]: "a backup of a box file",
      [`${PREFIX}/boxes/acme/node/blobs/1.0.0/notes.box`]: "not an upload id",
      [`${PREFIX}/boxes/acme/node/blobs/not-a-version/${hex(16)}.box`]: "not a version",
      [`${PREFIX}/boxes/acme/node/versions/1.0.0/providers/libvirt/amd64.json.orig`]: "a copy of a record",
      [`${PREFIX}/README`]: "the bucket's readme",
    });
    await plantObjects(bucket.client, bucket.name, planted);
    // A real server over the same bucket: what the CLI does must be what Vagrant then reads.
    server = spawn(process.execPath, [CLI, "box", "serve", ...store(), "--port", "0", "-q"], { env: { ...process.env, ...env() }, stdio: ["ignore", "pipe", "pipe"] });
    serverUrl = await new Promise<string>((resolve, reject) => {
      let out = "";
      server!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      server!.on("exit", (code) => reject(new Error(`serve exited (${code}): ${out}`)));
    });
  });
  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill("SIGTERM");
      await new Promise((r) => server!.once("exit", r));
    }
    await bucket?.cleanup();
    tmp.cleanup();
  });

  it("publish, list, release, revoke, rm: the same output and exit codes as on a directory, and box serve on the bucket sees each step", async () => {
    const dir = join(tmp.path, "dir-registry");
    const box1 = makeBox(tmp.path, "one");
    const box2 = makeBox(tmp.path, "two", { imageBytes: 3 << 20 });

    const p1 = await onBoth(["box", "publish", box1, "--name", "acme/node", "--box-version", "1.0.0"], dir);
    expect(p1.s3.code, p1.s3.stderr).toBe(0);
    expect(p1.s3.stdout).toMatch(new RegExp(`^published acme/node@1\\.0\\.0 libvirt/amd64 \\(.*sha256 ${sha(readFileSync(box1))}\\); version active \\(released\\)\\n$`));
    expect(p1.s3.stdout).toBe(p1.dir.stdout);
    const p2 = await onBoth(["box", "publish", box2, "--name", "acme/node", "--box-version", "2.0.0", "--no-release"], dir);
    expect(p2.s3.stdout).toContain("version unreleased");
    expect(p2.s3.stdout).toBe(p2.dir.stdout);
    expect((await catalog()).versions.map((v) => v.version)).toEqual(["1.0.0"]); // unreleased: not in Vagrant's catalog

    // The same version again: refused, never overwritten.
    const again = await onBoth(["box", "publish", box2, "--name", "acme/node", "--box-version", "1.0.0"], dir);
    expect([again.s3.code, again.dir.code]).toEqual([1, 1]);
    expect(again.s3.stderr).toContain("acme/node@1.0.0/libvirt/amd64 is already published");
    expect(again.s3.stderr).toBe(again.dir.stderr);
    expect((await catalog()).versions[0]!.providers[0]!.checksum).toBe(sha(readFileSync(box1)));

    const list = await onBoth(["box", "list"], dir);
    expect(list.s3.code).toBe(0);
    expect(list.s3.stdout).toMatch(/acme\/node\s+2\.0\.0\s+unreleased/);
    expect(list.s3.stdout).toBe(list.dir.stdout);
    const json = await onBoth(["box", "list", "acme/node", "--json"], dir);
    expect(JSON.parse(json.s3.stdout)[0].versions.map((v: { version: string }) => v.version)).toEqual(["1.0.0", "2.0.0"]);
    const none = await onBoth(["box", "list", "acme/other"], dir);
    expect([none.s3.code, none.s3.stderr]).toEqual([none.dir.code, none.dir.stderr]);
    expect(none.s3.code).toBe(1);

    const rel = await onBoth(["box", "release", "acme/node@2.0.0"], dir);
    expect([rel.s3.code, rel.s3.stdout]).toEqual([0, "acme/node@2.0.0: active (released)\n"]);
    expect(rel.s3.stdout).toBe(rel.dir.stdout);
    const relAgain = await onBoth(["box", "release", "acme/node@2.0.0"], dir);
    expect([relAgain.s3.code, relAgain.s3.stderr]).toEqual([relAgain.dir.code, relAgain.dir.stderr]);
    expect(relAgain.s3.code).not.toBe(0);
    const seen = await catalog();
    expect(seen.versions.map((v) => v.version)).toEqual(["1.0.0", "2.0.0"]);

    // A box the CLI put in S3 downloads through the server with its sha256.
    const url2 = seen.versions[1]!.providers[0]!.url;
    expect(url2.startsWith(serverUrl)).toBe(true);
    const out = join(tmp.path, "download.box");
    expect((await curl(["-f", "-o", out, url2])).code).toBe(0);
    expect(sha(readFileSync(out))).toBe(sha(readFileSync(box2)));
    expect(seen.versions[1]!.providers[0]!.checksum).toBe(sha(readFileSync(box2)));

    const rev = await onBoth(["box", "revoke", "acme/node@1.0.0", "--reason", "CVE-2026-1234 in openssl"], dir);
    expect([rev.s3.code, rev.s3.stdout]).toEqual([0, "acme/node@1.0.0: revoked (out of the catalog Vagrant reads)\n"]);
    expect(rev.s3.stdout).toBe(rev.dir.stdout);
    expect((await catalog()).versions.map((v) => v.version)).toEqual(["2.0.0"]);
    const gone = await curl(["-w", "%{http_code}", "-o", "/dev/null", `${serverUrl}/acme/node/1.0.0/libvirt/amd64`]);
    expect(gone.out).toBe("410");
    const listed = await onBoth(["box", "list"], dir);
    expect(listed.s3.stdout).toContain("acme/node@1.0.0 revoked: CVE-2026-1234 in openssl");
    expect(listed.s3.stdout).toBe(listed.dir.stdout);

    const rm = await onBoth(["box", "rm", "acme/node@2.0.0"], dir);
    expect([rm.s3.code, rm.s3.stdout]).toEqual([0, "removed acme/node@2.0.0 (libvirt/amd64)\n"]);
    expect(rm.s3.stdout).toBe(rm.dir.stdout);
    expect((await catalog()).versions).toEqual([]);
    expect(await listAllKeys(bucket.client, bucket.name, `${PREFIX}/boxes/acme/node/blobs/2.0.0/`)).toEqual([]);
    const rmAgain = await onBoth(["box", "rm", "acme/node@2.0.0"], dir);
    expect([rmAgain.s3.code, rmAgain.s3.stderr]).toEqual([rmAgain.dir.code, rmAgain.dir.stderr]);
    expect(rmAgain.s3.code).toBe(1);
    await intact();
  });

  it("usage errors are exit 2 with a message naming the flags", async () => {
    const both = await cli(["box", "list", "--registry", tmp.path, ...store()]);
    expect([both.code, both.stderr]).toEqual([2, "homelab: --registry and --store: give one (--registry a directory or URL, --store an S3 bucket)\n"]);
    const serveBoth = await cli(["box", "serve", "--root", tmp.path, ...store()]);
    expect([serveBoth.code, serveBoth.stderr.trim()]).toEqual([2, "homelab: box serve: give --root DIR or --store s3://bucket/prefix (one of them)"]);
    const loose = await cli(["box", "rm", "acme/node@1.0.0", "--registry", tmp.path, "--s3-endpoint", s3!.endpoint]);
    expect([loose.code, loose.stderr.trim()]).toEqual([2, "homelab: --s3-* options go with --store s3://bucket/prefix"]);
    const asRegistry = await cli(["box", "list", "--registry", `s3://${bucket.name}/${PREFIX}`]);
    expect([asRegistry.code, asRegistry.stderr.trim()]).toEqual([2, `homelab: --registry: an S3 bucket is given as --store s3://${bucket.name}/${PREFIX}`]);
    const graceDir = await cli(["box", "fsck", "--registry", tmp.path, "--grace", "0s"]);
    expect(graceDir.code).toBe(2);
    const badGrace = await cli(["box", "fsck", ...store(), "--grace", "soon"]);
    expect([badGrace.code, badGrace.stderr.trim()]).toEqual([2, 'homelab: --grace: expected a duration like 30m, 2h, 90s or 0s, got "soon"']);
    const noBucket = await cli(["box", "list", "--store", `s3://homelab-none-${hex(4)}/x`, "--s3-endpoint", s3!.endpoint]);
    expect([noBucket.code, noBucket.stderr]).toEqual([2, expect.stringContaining("no such bucket")]);
    await intact();
  });

  it("two CLI processes publishing the same version at once: one wins, the other exits 1 with the conflict and leaves nothing", async () => {
    const a = makeBox(tmp.path, "race-a", { imageBytes: 24 << 20, gzip: false });
    const b = makeBox(tmp.path, "race-b", { imageBytes: 24 << 20, gzip: false });
    const [ra, rb] = await Promise.all([a, b].map((file) => cli(["box", "publish", file, "--name", "acme/race", "--box-version", "1.0.0", ...store()])));
    const results = [ra!, rb!];
    const winners = results.filter((r) => r.code === 0);
    const losers = results.filter((r) => r.code !== 0);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(winners[0]!.stdout).toMatch(/^published acme\/race@1\.0\.0 libvirt\/amd64 .*version active \(released\)\n$/);
    expect(losers[0]!.code).toBe(1);
    expect(losers[0]!.stdout).toBe("");
    expect(losers[0]!.stderr).toContain("acme/race@1.0.0/libvirt/amd64 is already published");
    const winnerFile = ra!.code === 0 ? a : b;
    const seen = await curl(["-f", `${serverUrl}/acme/race`]);
    expect(JSON.parse(seen.out).versions[0].providers[0].checksum).toBe(sha(readFileSync(winnerFile)));
    // The loser removed its own box file; no multipart upload is left behind.
    expect(await listAllKeys(bucket.client, bucket.name, `${PREFIX}/boxes/acme/race/blobs/`)).toHaveLength(1);
    expect((await listUploads(bucket.client, bucket.name)).filter((u) => u.key.startsWith(`${PREFIX}/boxes/acme/race/`))).toEqual([]);
    await intact();
  });

  it("fsck reports what a killed publish leaves; --repair removes only old junk of ours (a fresh orphan stays), malformed records are left for a human", async () => {
    const box = makeBox(tmp.path, "fsck");
    for (const v of ["3.0.0", "3.1.0"]) expect((await cli(["box", "publish", box, "--name", "acme/fsck", "--box-version", v, ...store()])).code).toBe(0);
    const clean = await cli(["box", "fsck", ...store()]);
    expect([clean.code, clean.stdout]).toEqual([0, `s3://${bucket.name}/${PREFIX}/: clean\n`]);

    const base = `${PREFIX}/boxes/acme/fsck`;
    // A record whose box file is gone (someone deleted it), a box file no record names (a publish
    // killed between its upload and its record), a multipart upload a killed publish left, and a
    // record key holding something that is not our record.
    const [blob31] = (await listAllKeys(bucket.client, bucket.name, `${base}/blobs/3.1.0/`)) as [string];
    await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: blob31 }));
    const orphan = `${base}/blobs/3.0.0/${hex(16)}.box`;
    await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: orphan, Body: readFileSync(box) }));
    const partKey = `${base}/blobs/3.2.0/${hex(16)}.box`;
    const mpu = await bucket.client.send(new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: partKey }));
    await bucket.client.send(new UploadPartCommand({ Bucket: bucket.name, Key: partKey, UploadId: mpu.UploadId!, PartNumber: 1, Body: randomBytes(1 << 20) }));
    const malformed = `${base}/versions/4.0.0/providers/libvirt/amd64.json`;
    await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: malformed, Body: "{ not ours" }));

    const report = await cli(["box", "fsck", ...store()]);
    expect(report.code, report.stderr).toBe(1);
    expect(report.stdout).toContain(`missing-file  ${base}/versions/3.1.0/providers/libvirt/amd64.json  acme/fsck@3.1.0/libvirt/amd64: the record names a box file that is not there (${blob31}) (repairable)`);
    expect(report.stdout).toMatch(new RegExp(`orphan-box  ${orphan}  a box file no record names \\(0 min old\\): may be a publish in flight on another server \\(younger than the grace period: left alone\\)`));
    expect(report.stdout).toMatch(new RegExp(`partial-upload  ${partKey}  an unfinished upload.*\\(younger than the grace period: left alone\\)`));
    expect(report.stdout).toContain(`malformed-record  ${malformed}`);
    expect(report.stdout).toContain("(needs a human)");
    expect(report.stdout).toContain(`s3://${bucket.name}/${PREFIX}/: 4 found, 0 repaired, 2 left, 2 too recent to judge\n`);
    expect(report.stderr).toContain("2 problem(s) left (run with --repair)");

    // --repair with the default grace: the record without its file goes; the fresh orphan and the
    // upload (another server's publish, for all fsck can tell) stay.
    const repair = await cli(["box", "fsck", "--repair", ...store()]);
    expect(repair.code).toBe(1);
    expect(repair.stdout).toContain(`s3://${bucket.name}/${PREFIX}/: 4 found, 1 repaired, 1 left, 2 too recent to judge\n`);
    const keys = await listAllKeys(bucket.client, bucket.name, base);
    expect(keys).toContain(orphan);
    expect(keys).not.toContain(`${base}/versions/3.1.0/providers/libvirt/amd64.json`);
    expect((await listUploads(bucket.client, bucket.name)).map((u) => u.key)).toContain(partKey);
    expect((await catalogOf("acme/fsck")).versions.map((v) => v.version)).toEqual(["3.0.0"]);

    // Old enough (grace 0): the orphan and the upload are removed; the malformed record stays.
    const old = await cli(["box", "fsck", "--repair", "--grace", "0s", ...store()]);
    expect(old.code).toBe(1);
    expect(old.stdout).toMatch(new RegExp(`orphan-box  ${orphan}  .* \\(repaired\\)`));
    expect(old.stdout).toMatch(new RegExp(`partial-upload  ${partKey}  .* \\(repaired\\)`));
    expect(old.stdout).toContain(`malformed-record  ${malformed}`);
    expect(old.stdout).toContain("3 found, 2 repaired, 1 left\n");
    expect(await listAllKeys(bucket.client, bucket.name, base)).toContain(malformed);
    expect(await listAllKeys(bucket.client, bucket.name, base)).not.toContain(orphan);
    expect((await listUploads(bucket.client, bucket.name)).map((u) => u.key)).not.toContain(partKey);
    await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: malformed }));
    const after = await cli(["box", "fsck", "--grace", "0s", ...store()]);
    expect([after.code, after.stdout]).toEqual([0, `s3://${bucket.name}/${PREFIX}/: clean\n`]);
    // The box the repairs left is whole: its download still matches.
    const v = (await catalogOf("acme/fsck")).versions[0]!.providers[0]!;
    const out = join(tmp.path, "fsck.box");
    expect((await curl(["-f", "-o", out, v.url])).code).toBe(0);
    expect(sha(readFileSync(out))).toBe(sha(readFileSync(box)));
    await intact();
  });

  it("fsck's clock: an orphan that is fresh now is junk once the grace period has passed (an injected clock, no sleeping)", async () => {
    const opened = await S3BoxStore.open({ bucket: bucket.name, prefix: `${PREFIX}/`, endpoint: s3!.endpoint, region: "us-east-1", credentials: { accessKeyId: s3!.accessKeyId, secretAccessKey: s3!.secretAccessKey } });
    try {
      const orphan = `${PREFIX}/boxes/acme/clock/blobs/1.0.0/${hex(16)}.box`;
      await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: orphan, Body: "bytes of a publish" }));
      const now = await fsckS3Registry(opened, { repair: true });
      expect(now.recent.map((f) => f.path)).toEqual([orphan]);
      expect(now.repaired).toEqual([]);
      expect(await listAllKeys(bucket.client, bucket.name, orphan)).toEqual([orphan]);
      const later = await fsckS3Registry(opened, { repair: true, now: () => Date.now() + 61 * 60_000 });
      expect(later.recent).toEqual([]);
      expect(later.repaired.map((f) => [f.kind, f.path])).toEqual([["orphan-box", orphan]]);
      expect(await listAllKeys(bucket.client, bucket.name, orphan)).toEqual([]);
      // With a longer grace the same age is still fresh.
      await bucket.client.send(new PutObjectCommand({ Bucket: bucket.name, Key: orphan, Body: "again" }));
      const longer = await fsckS3Registry(opened, { repair: true, graceMs: 2 * 60 * 60_000, now: () => Date.now() + 61 * 60_000 });
      expect(longer.recent.map((f) => f.path)).toEqual([orphan]);
      await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: orphan }));
    } finally {
      opened.destroy();
    }
    await intact();
  });

  async function catalogOf(name: string): Promise<{ versions: { version: string; providers: { url: string; checksum: string }[] }[] }> {
    const got = await curl(["-f", `${serverUrl}/${name}`]);
    return got.code === 0 ? JSON.parse(got.out) : { versions: [] };
  }
});
