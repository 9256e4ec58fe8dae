import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, stat } from "node:fs/promises";
import { basename } from "node:path";
import { z } from "zod";
import { PROVIDERS, type Provider } from "../config/schema.js";
import { OutsideRootError, resolveInside } from "../fs/contain.js";
import { readRegularFile } from "../fs/read-regular.js";

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

/** Largest build.json read: a real one is about 1 KiB. */
const MAX_RECORD_BYTES = 1 << 20;

const HEX64 = /^[0-9a-f]{64}$/;

/** What a build.json must look like before anything in it is trusted. */
const recordSchema = z.object({
  hash: z.string().regex(HEX64),
  boxName: z.string().min(1),
  boxVersion: z.string().min(1),
  config: z.string(),
  homelab: z.string(),
  packer: z.object({ binary: z.string(), version: z.string() }),
  accelerator: z.string().optional(),
  startedAt: z.string(),
  endedAt: z.string(),
  durationMs: z.number().nonnegative(),
  boxes: z.array(
    z.object({
      provider: z.enum(PROVIDERS),
      file: z.string().min(1),
      size: z.number().int().nonnegative(),
      sha256: z.string().regex(HEX64),
    }),
  ),
  log: z.string(),
});

/** A usable record, or why the build directory is not a cache hit (undefined: there is no record). */
export type RecordCheck = { record: BuildRecord } | { reason: string | undefined };

/**
 * The record of a finished build in `dir`, if it is still usable as a cache hit: it parses as a
 * record of this very build (its hash names the directory), and every box it lists for
 * `providers` is a regular file inside `dir` with its recorded size. Sizes, not hashes:
 * re-hashing gigabytes would make a cache hit take minutes; the sha256 is checked again wherever
 * a box is published or downloaded. Anything odd is a reason to rebuild, never an error.
 */
export async function checkRecord(dir: string, providers: readonly Provider[]): Promise<RecordCheck> {
  // Never built: no record, and nothing to say about it.
  if (!(await lstat(dir).then(() => true, () => false))) return { reason: undefined };
  let text: string;
  try {
    text = (await readRegularFile(await resolveInside(dir, RECORD_FILE), MAX_RECORD_BYTES)).toString("utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { reason: undefined };
    return { reason: `${RECORD_FILE}: ${err instanceof Error ? err.message : String(err)}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { reason: `${RECORD_FILE} is not valid JSON` };
  }
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { reason: `${RECORD_FILE} is not a build record (${issue.path.join(".") || "top level"}: ${issue.message})` };
  }
  const { accelerator, ...rest } = parsed.data;
  const record: BuildRecord = accelerator === undefined ? rest : { ...rest, accelerator };
  if (record.hash !== basename(dir)) return { reason: `${RECORD_FILE} records build ${record.hash.slice(0, 12)}, not this one` };
  for (const provider of providers) {
    const box = record.boxes.find((b) => b.provider === provider);
    if (!box) return { reason: `${RECORD_FILE} lists no ${provider} box` };
    let path: string;
    try {
      path = await resolveInside(dir, box.file);
    } catch (err) {
      return { reason: `${provider} box ${err instanceof OutsideRootError ? err.message : `${JSON.stringify(box.file)} cannot be resolved`}` };
    }
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) return { reason: `${provider} box ${box.file} is missing` };
    if (st.size !== box.size) return { reason: `${provider} box ${box.file} has ${st.size} bytes, the record says ${box.size}` };
  }
  return { record };
}
