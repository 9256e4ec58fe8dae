import type { Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { PassThrough, type Readable } from "node:stream";
import { JobError } from "../errors.js";
import { newHash, type SourceChecksum } from "./checksum.js";
import { shown, SourceError, type SourceClient } from "./source-http.js";
import type { MirrorWorkDir } from "./work-dir.js";

/** The bytes did not hash to what the source's catalog says: never published, never resumed from. */
export class ChecksumMismatchError extends JobError {
  constructor(
    message: string,
    /** Bytes that came from an earlier partial: when > 0 they may be what was wrong (a partial torn by a crash). */
    readonly resumedFrom: number,
  ) {
    super(message);
  }
}

export interface DownloadProgress {
  readonly bytes: number;
  readonly total?: number;
}

export interface DownloadResult {
  /** The verified file (in the work directory). */
  readonly file: string;
  readonly size: number;
  /** Bytes already there from an earlier run (resumed with Range), 0 when fetched whole. */
  readonly resumedFrom: number;
  /** Bytes received over the network in this call. */
  readonly received: number;
}

const CHUNK = 1 << 20;

/**
 * Downloads `url` into the work directory's partial file for `sum`, resuming what an earlier
 * (killed, failed) run left with `Range: bytes=N-` (and `If-Range` when the source gave an ETag
 * or Last-Modified), and checks the whole file against the source's checksum. A source that
 * ignores the range (200) starts over; one that cuts the body leaves what arrived for the next
 * attempt (SourceError, retryable). Bytes that hash wrong are removed (ChecksumMismatchError).
 */
export async function downloadVerified<T = never>(
  client: SourceClient,
  work: MirrorWorkDir,
  url: string,
  sum: SourceChecksum,
  opts: {
    signal?: AbortSignal;
    onProgress?: (p: DownloadProgress) => void;
    /** Reads the whole file as it arrives (ending only when it proved right); its result is returned as `consumed`. */
    consume?: (whole: Readable, total: number | undefined) => Promise<T>;
  } = {},
): Promise<DownloadResult & { consumed?: T }> {
  const fh = await work.openPart(sum);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new JobError(`${work.partPath(sum)}: not a regular file; refusing to use it`);
    const meta = await work.readMeta(sum);
    // An earlier partial from another URL with the same checksum is the same bytes: still resumable.
    let have = st.size;
    const headers: Record<string, string> = { Accept: "application/octet-stream, */*" };
    if (have > 0) {
      headers.Range = `bytes=${have}-`;
      const validator = meta?.url === url ? (meta.etag ?? meta.lastModified) : undefined;
      if (validator !== undefined) headers["If-Range"] = validator;
    }
    const { res, url: final } = await client.open(url, headers, opts.signal);
    let total: number | undefined;
    if (res.statusCode === 206 && have > 0) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers["content-range"] ?? "");
      if (!m || Number(m[1]) !== have) {
        res.resume();
        await fh.truncate(0);
        throw new SourceError(`GET ${shown(final)}: answered a range we did not ask for (${res.headers["content-range"] ?? "no Content-Range"}); starting over`, true);
      }
      if (m[3] !== "*") total = Number(m[3]);
    } else if (res.statusCode === 416 && have > 0) {
      // Nothing after what we have: the partial may already be whole. The hash decides.
      res.resume();
      total = have;
    } else if (res.statusCode === 200) {
      have = 0;
      await fh.truncate(0);
      const len = Number(res.headers["content-length"]);
      if (Number.isSafeInteger(len)) total = len;
    } else {
      res.resume();
      throw new SourceError(`GET ${shown(final)}: ${res.statusCode} ${res.statusMessage ?? ""}`.trim(), res.statusCode === undefined || res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429, res.statusCode);
    }
    const etag = typeof res.headers.etag === "string" && !res.headers.etag.startsWith("W/") ? res.headers.etag : undefined;
    const lastModified = res.headers["last-modified"];
    if (res.statusCode !== 416) await work.writeMeta(sum, { url, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) });

    // A consumer (the registry's publish) reads the whole file while it arrives: the partial's
    // bytes first, then the network's. It ends only once the checksum matched; on a mismatch or a
    // cut it fails, and the registry discards what it was writing.
    const whole = opts.consume ? new PassThrough({ highWaterMark: 4 * CHUNK }) : undefined;
    // The consumer may not be reading yet when the download fails; its pipeline still sees the error.
    whole?.on("error", () => {});
    const consumed = opts.consume && whole ? settle(opts.consume(whole, total)) : undefined;
    // The download's own failure (a cut, a wrong checksum) is the one to report: the consumer
    // failed only because its input did; it is awaited so it has cleaned up (its temporary file).
    const fail = async (err: Error): Promise<never> => {
      whole?.destroy(err);
      await consumed;
      throw err;
    };

    // The hash covers the whole file: what an earlier run wrote is read again first.
    const hash = newHash(sum.type);
    const resumedFrom = have;
    let received = 0;
    try {
      if (have > 0) {
        for await (const chunk of fh.createReadStream({ start: 0, end: have - 1, autoClose: false, highWaterMark: CHUNK })) {
          hash.update(chunk as Buffer);
          if (whole) await push(whole, chunk as Buffer);
        }
      }
      if (res.statusCode !== 416) {
        received = await appendBody(res, fh, have, hash, final, whole, (bytes) => opts.onProgress?.({ bytes: have + bytes, ...(total === undefined ? {} : { total }) }));
      }
    } catch (err) {
      res.destroy();
      if (err instanceof ConsumerStopped && consumed) {
        const c = await consumed;
        if (!c.ok && resumedFrom > 0) {
          // The registry refused what it read, and part of it came from an earlier partial that
          // may be torn (a crash): the partial goes, and the caller may fetch the file whole.
          await fh.close().catch(() => {});
          await work.dropPart(sum);
          throw new ChecksumMismatchError(`${(c.error as Error).message} (its first ${resumedFrom} bytes came from an earlier partial download)`, resumedFrom);
        }
        if (!c.ok) throw c.error;
      }
      return await fail(err as Error);
    }
    const size = resumedFrom + received;
    // No fsync: the partial is a cache, the registry fsyncs its own copy, and a partial torn by a
    // crash fails the whole-file checksum and is fetched again. Writing it twice would halve the speed.
    const got = hash.digest("hex");
    if (got !== sum.value) {
      await fh.close().catch(() => {});
      await work.dropPart(sum);
      return await fail(new ChecksumMismatchError(`${shown(final)}: the file (${size} bytes) hashes to ${sum.type} ${got}, but the source's catalog says ${sum.value}; not published`, resumedFrom));
    }
    whole?.end();
    const c = await consumed;
    if (c && !c.ok) throw c.error;
    return { file: work.partPath(sum), size, resumedFrom, received, ...(c?.ok ? { consumed: c.value as T } : {}) };
  } finally {
    await fh.close().catch(() => {});
  }
}

/** The consumer stopped reading (it failed): the download stops too, and the consumer's error is the one to report. */
class ConsumerStopped extends Error {}

async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** Writes into the consumer's stream, waiting while it is full; throws ConsumerStopped when it is gone. */
async function push(whole: PassThrough, chunk: Buffer): Promise<void> {
  if (whole.destroyed) throw new ConsumerStopped();
  if (whole.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      whole.off("drain", done);
      whole.off("close", gone);
      resolve();
    };
    const gone = (): void => {
      whole.off("drain", done);
      reject(new ConsumerStopped());
    };
    whole.once("drain", done);
    whole.once("close", gone);
  });
}

/** Appends the body at `offset`, hashing it (and passing it on to `whole`); a body cut short keeps what arrived and throws a retryable SourceError. */
async function appendBody(
  res: IncomingMessage,
  fh: FileHandle,
  offset: number,
  hash: Hash,
  url: URL,
  whole: PassThrough | undefined,
  progress: (bytes: number) => void,
): Promise<number> {
  let written = 0;
  let lastReport = 0;
  const declared = Number(res.headers["content-length"]);
  try {
    for await (const chunk of res) {
      const buf = chunk as Buffer;
      await fh.write(buf, 0, buf.length, offset + written);
      hash.update(buf);
      written += buf.length;
      if (whole) await push(whole, buf);
      if (written - lastReport >= 4 * CHUNK) {
        lastReport = written;
        progress(written);
      }
    }
  } catch (err) {
    if (err instanceof ConsumerStopped || (err as Error).name === "AbortError") throw err;
    throw new SourceError(`GET ${shown(url)}: the download was cut off after ${offset + written} bytes (${(err as Error).message}); kept for resuming`, true);
  }
  // Node ends the stream without an error when the peer closes early on a keep-alive socket: check the length.
  if (Number.isSafeInteger(declared) && written < declared) {
    throw new SourceError(`GET ${shown(url)}: the download was cut off after ${offset + written} of ${offset + declared} bytes; kept for resuming`, true);
  }
  progress(written);
  return written;
}
