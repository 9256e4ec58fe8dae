import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishBox } from "../../src/box/publish.js";
import { CHUNK_BYTES } from "../../src/box/send-file.js";
import { startRegistryServer, type RegistryServer } from "../../src/box/server.js";
import { http, makeBox, tempDir } from "./support.js";

/**
 * The download responder reuses its read buffers across downloads: these tests would see one
 * download's bytes in another's body, or a body cut or shifted at a chunk boundary, if a buffer
 * went back to the pool while a read or a write still used it.
 */
const tmp = tempDir();
const root = join(tmp.path, "root");
let server: RegistryServer;
let body: Buffer;
const boxes: Buffer[] = [];
const log: string[] = [];

beforeAll(async () => {
  // Several chunks and a ragged end (box.img is not a multiple of the chunk size); gzip off so the size is predictable.
  // The third is larger than what loopback socket buffers hold, so a client can leave before its end.
  for (const [i, bytes] of [3 * CHUNK_BYTES + 12345, CHUNK_BYTES - 7, 32 << 20].entries()) {
    const file = makeBox(tmp.path, `b${i}`, { imageBytes: bytes, gzip: false });
    await publishBox({ file, name: `acme/b${i}`, version: "1.0.0", registry: root });
    boxes.push(readFileSync(file));
  }
  body = boxes[0]!;
  server = await startRegistryServer({ root, port: 0, writeTokens: [], readTokens: [], log: (l) => log.push(l) });
});
afterAll(async () => {
  await server?.close({ graceMs: 1000 });
  tmp.cleanup();
});

const url = (i: number): string => `${server.url}/acme/b${i}/1.0.0/libvirt/amd64`;
const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

describe("download responder", () => {
  it("many concurrent downloads of two files, whole and in ranges across chunk boundaries, each get exactly their bytes", async () => {
    const ranges: Array<[number, number]> = [
      [0, CHUNK_BYTES - 1],
      [CHUNK_BYTES - 1, CHUNK_BYTES],
      [CHUNK_BYTES - 100, 2 * CHUNK_BYTES + 100],
      [body.length - CHUNK_BYTES - 3, body.length - 1],
      [5, 5],
    ];
    const jobs = [
      ...Array.from({ length: 6 }, (_, k) => http(url(k % 2)).then((r) => expect(sha(r.body)).toBe(sha(boxes[k % 2]!)))),
      ...ranges.map(([a, b]) =>
        http(url(0), { headers: { Range: `bytes=${a}-${b}` } }).then((r) => {
          expect(r.status).toBe(206);
          expect(r.headers["content-range"]).toBe(`bytes ${a}-${b}/${body.length}`);
          expect(r.body.equals(body.subarray(a, b + 1))).toBe(true);
        }),
      ),
    ];
    await Promise.all(jobs);
  });

  it("a client that goes away mid-download is logged, and the downloads after it are intact", async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(url(2), (res) => {
        let got = 0;
        res.on("data", (c: Buffer) => {
          got += c.length;
          if (got > CHUNK_BYTES) req.destroy();
        });
        res.on("close", () => resolve());
      });
      req.on("error", () => resolve());
      req.on("close", () => resolve());
      req.setTimeout(20_000, () => reject(new Error("no data")));
      req.end();
    });
    await expect.poll(() => log.some((l) => /^GET \/acme\/b2\/1\.0\.0\/libvirt\/amd64 aborted/.test(l))).toBe(true);
    const again = await Promise.all([http(url(2)), http(url(1)), http(url(0), { headers: { Range: "bytes=1-" } })]);
    expect(sha(again[0].body)).toBe(sha(boxes[2]!));
    expect(sha(again[1].body)).toBe(sha(boxes[1]!));
    expect(again[2].body.equals(body.subarray(1))).toBe(true);
  });
});
