import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { parseS3Url, resolveS3Options } from "../../src/box/s3-location.js";
import { S3Layout } from "../../src/box/s3-layout.js";
import { needS3 } from "../support/s3.js";
import { runCli } from "../support/cli.js";

const s3 = await needS3();

describe("s3://bucket/prefix and the S3 settings", () => {
  it("parses bucket and prefix, normalising the prefix to '' or 'a/b/'", () => {
    expect(parseS3Url("s3://boxes")).toEqual({ bucket: "boxes", prefix: "" });
    expect(parseS3Url("s3://boxes/")).toEqual({ bucket: "boxes", prefix: "" });
    expect(parseS3Url("s3://boxes/reg//team/")).toEqual({ bucket: "boxes", prefix: "reg/team/" });
  });

  it.each(["s3://", "s3://Bad_Bucket/x", "s3://ab", "s3://a..b/x", "s3://boxes/../x", "s3://boxes/a/./b", "http://boxes/x"])("refuses %s as bad input", (url) => {
    expect(() => parseS3Url(url)).toThrow(InputError);
  });

  it("takes flags first, then HOMELAB_S3_*, then AWS_*; keys only as a pair", () => {
    const env = { HOMELAB_S3_ENDPOINT: "http://127.0.0.1:7480", AWS_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };
    expect(resolveS3Options("s3://boxes/p", {}, env)).toEqual({ bucket: "boxes", prefix: "p/", endpoint: "http://127.0.0.1:7480", region: "eu-west-1", downloads: "stream", credentials: { accessKeyId: "k", secretAccessKey: "s" } });
    expect(resolveS3Options("s3://boxes", { endpoint: "http://127.0.0.1:9000", region: "us-east-1", downloads: "redirect" }, env)).toMatchObject({ endpoint: "http://127.0.0.1:9000", region: "us-east-1", downloads: "redirect" });
    expect(resolveS3Options("s3://boxes", {}, {})).toEqual({ bucket: "boxes", prefix: "", region: "us-east-1", downloads: "stream" });
    expect(() => resolveS3Options("s3://boxes", {}, { AWS_ACCESS_KEY_ID: "k" })).toThrow(/set both or neither/);
    expect(() => resolveS3Options("s3://boxes", { endpoint: "ftp://x" }, {})).toThrow(/http\(s\) URL/);
    expect(() => resolveS3Options("s3://boxes", { downloads: "teleport" }, {})).toThrow(/stream or redirect/);
  });

  it("reads only keys of its own layout as records; a user's key never parses as one", () => {
    const layout = new S3Layout("reg/");
    expect(layout.parseRecordKey("reg/boxes/acme/node/versions/1.0.0/providers/libvirt/amd64.json")).toEqual({ box: { org: "acme", name: "node" }, version: "1.0.0", provider: "libvirt", architecture: "amd64" });
    for (const key of [
      "reg/boxes/acme/node/versions/1.0.0/providers/libvirt/amd64.json.bak",
      "reg/boxes/ACME/node/versions/1.0.0/providers/libvirt/amd64.json",
      "reg/boxes/acme/node/versions/1.0/providers/libvirt/amd64.json",
      "reg/boxes/acme/node/versions/1.0.0/providers/libvirt/sparc.json",
      "other/boxes/acme/node/versions/1.0.0/providers/libvirt/amd64.json",
    ]) {
      expect(layout.parseRecordKey(key), key).toBeUndefined();
    }
    expect(layout.isBlobKey(`reg/boxes/acme/node/blobs/1.0.0/${"a".repeat(32)}.box`)).toBe(true);
    expect(layout.isBlobKey("reg/boxes/acme/node/blobs/1.0.0/mine.box")).toBe(false);
    expect(layout.blobKey({ org: "acme", name: "node" }, `blobs/1.0.0/${"a".repeat(32)}.box`, "2.0.0")).toBeUndefined(); // another version's
  });
});

describe("homelab box serve --store: bad usage is exit 2 with a message", () => {
  it.each([
    [["--root", "/tmp", "--store", "s3://boxes"], /give --root DIR or --store/],
    [[], /give --root DIR or --store/],
    [["--root", "/tmp", "--s3-endpoint", "http://127.0.0.1:1"], /--s3-\* options go with --store/],
    [["--store", "/srv/boxes"], /expected s3:\/\/bucket\/prefix/],
    [["--store", "s3://Bad_Bucket"], /bucket name/],
    [["--store", "s3://boxes", "--s3-downloads", "teleport"], /teleport/],
  ])("box serve %j", async (args, message) => {
    const r = await runCli(["box", "serve", "--port", "0", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it.skipIf(!s3)("a bucket that does not exist is exit 2 naming it; no stack trace", async () => {
    const r = await runCli(["box", "serve", "--port", "0", "--store", "s3://homelab-no-such-bucket/x", "--s3-endpoint", s3!.endpoint], {
      env: { AWS_ACCESS_KEY_ID: s3!.accessKeyId, AWS_SECRET_ACCESS_KEY: s3!.secretAccessKey },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/s3:\/\/homelab-no-such-bucket\/x\/: no such bucket/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("an S3 endpoint that does not answer is exit 1 saying what failed", async () => {
    const r = await runCli(["box", "serve", "--port", "0", "--store", "s3://boxes", "--s3-endpoint", "http://127.0.0.1:9"], { env: { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/s3:\/\/boxes\/: opening the bucket: ECONNREFUSED/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
