import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe } from "vitest";
import { S3BoxStore } from "../../src/box/s3-store.js";
import { needS3, testBucket } from "../support/s3.js";
import { backendContract } from "./backend-contract.js";
import { tempDir } from "./support.js";

/**
 * The S3 store runs the same BoxBackend contract as the directory store, against the real
 * radosgw: each case gets a fresh, empty prefix of one bucket.
 */
const s3 = await needS3();
const tmp = tempDir("homelab-s3contract-");
let bucket: Awaited<ReturnType<typeof testBucket>> | undefined;
const stores: S3BoxStore[] = [];
let n = 0;

describe.skipIf(!s3)("S3 store", () => {
  beforeAll(async () => {
    bucket = await testBucket(s3!, "contract");
  });
  afterAll(async () => {
    for (const s of stores) s.destroy();
    await bucket?.cleanup();
    tmp.cleanup();
  });

  backendContract(
    "S3 store",
    async () => {
      const store = await S3BoxStore.open({ bucket: bucket!.name, prefix: `case-${n++}/`, endpoint: s3!.endpoint, region: s3!.region, credentials: s3! });
      stores.push(store);
      return store;
    },
    () => {
      const dir = join(tmp.path, `s${n}-${Math.random().toString(16).slice(2)}`);
      mkdirSync(dir);
      return dir;
    },
  );
});
