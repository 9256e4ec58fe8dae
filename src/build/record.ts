import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import type { Provider } from "../config/schema.js";

/** One box a build produced. */
export interface BuiltBox {
  provider: Provider;
  /** Path relative to the build directory (boxes/<name>-<provider>.box). */
  file: string;
  size: number;
  sha256: string;
}

/** build.json: everything needed to know what a build was made from and what it made. */
export interface BuildRecord {
  /** The bundle's content hash: names the build directory and makes the cache key. */
  hash: string;
  boxName: string;
  boxVersion: string;
  config: string;
  homelab: string;
  packer: { binary: string; version: string };
  accelerator?: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  boxes: BuiltBox[];
  /** Packer's machine-readable log, relative to the build directory. */
  log: string;
  /** The same build as a person reads it (decoded, timestamped lines); absent in older records. */
  plainLog?: string;
}

export const RECORD_FILE = "build.json";

/** sha256 and size of a file, streamed (boxes are gigabytes). */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), size };
}

/**
 * The record of a finished build in `dir`, if it is still usable as a cache hit: every box it
 * lists is present with its recorded size. Sizes, not hashes: re-hashing gigabytes would make a
 * cache hit take minutes; the sha256 is checked again wherever a box is published or downloaded.
 */
export async function readUsableRecord(dir: string, providers: readonly Provider[]): Promise<BuildRecord | undefined> {
  let record: BuildRecord;
  try {
    record = JSON.parse(await readFile(`${dir}/${RECORD_FILE}`, "utf8")) as BuildRecord;
  } catch {
    return undefined;
  }
  for (const provider of providers) {
    const box = record.boxes?.find((b) => b.provider === provider);
    if (!box) return undefined;
    const st = await stat(`${dir}/${box.file}`).catch(() => undefined);
    if (!st?.isFile() || st.size !== box.size) return undefined;
  }
  return record;
}
