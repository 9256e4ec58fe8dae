import type { IncomingMessage, ServerResponse } from "node:http";
import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * The download responder: one open file answered with ETag, If-None-Match (304), Range and
 * If-Range (206/416), HEAD, and the body copied with large reads into a pair of reused buffers.
 *
 * Why not `createReadStream().pipe(res)`: a read stream allocates a fresh buffer for every read
 * and keeps at most one read in flight, so with many downloads the process spends its time in
 * allocation, garbage collection and page faults on cold memory. Here each download reads the
 * next chunk into one buffer while the previous one is being written (the disk read and the
 * socket write overlap), and buffers come from a pool, so the memory they touch stays mapped
 * and warm in the CPU's caches. bench/serve.mjs measures the difference against nginx.
 */

export interface FileToSend {
  /** A local file: copied by the pooled-buffer loop below (the fast path). */
  readonly fh?: FileHandle;
  /** Otherwise a stream of bytes start..end inclusive (an object store's body). */
  readonly open?: (start: number, end: number) => Readable;
  readonly size: number;
  /** A strong ETag, quoted (`"…"`): it must name these very bytes. */
  readonly etag: string;
}

/** Answers a request the responder refuses (416) with the server's usual error body. */
export type Refuse = (status: number, message: string) => void;

/** Bytes per read; two per download in flight. Large enough for few system calls, small enough to stay in cache. */
export const CHUNK_BYTES = 512 * 1024;
/** Buffers kept for reuse when no download holds them (at most this many bytes stay allocated). */
const POOL_MAX = 64;
const pool: Buffer[] = [];

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
}

function giveBack(buf: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(buf);
}

/**
 * Sends the file (or the requested range of it). Resolves when the body is written or the
 * client went away (which the response's `close` event reports); the caller closes the file.
 */
export async function sendFile(req: IncomingMessage, res: ServerResponse, file: FileToSend, refuse: Refuse): Promise<void> {
  const { size, etag } = file;
  res.setHeader("ETag", etag);
  res.setHeader("Accept-Ranges", "bytes");
  res.setHeader("Content-Type", "application/octet-stream");
  if (req.headers["if-none-match"]?.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
    res.writeHead(304).end();
    return;
  }
  const ifRange = req.headers["if-range"];
  const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, size) : undefined;
  if (range === "unsatisfiable") {
    res.setHeader("Content-Range", `bytes */${size}`);
    return refuse(416, "range not satisfiable");
  }
  const [start, end] = range ?? [0, size - 1];
  const length = size === 0 ? 0 : end - start + 1;
  res.setHeader("Content-Length", length);
  if (range) res.setHeader("Content-Range", `bytes ${start}-${end}/${size}`);
  res.writeHead(range ? 206 : 200);
  if (req.method === "HEAD" || length === 0) {
    res.end();
    return;
  }
  if (file.fh) return copyRange(file.fh, res, start, end + 1);
  if (!file.open) throw new Error("sendFile: neither a file handle nor a stream to send");
  await pipeline(file.open(start, end), res).catch(() => {
    /* the client went away (logged by the response's close), or the source failed: the body is cut short */
  });
}

/** Copies bytes [from, to) of the file to the response; reading chunk n+1 overlaps writing chunk n. */
async function copyRange(fh: FileHandle, res: ServerResponse, from: number, to: number): Promise<void> {
  let current = takeBuffer();
  let spare = takeBuffer();
  // Resolves when the client goes away: no write callback may ever come then.
  let gone = false;
  const closed = new Promise<void>((resolve) => {
    const leave = (): void => {
      gone = true;
      resolve();
    };
    if (res.destroyed) leave();
    else res.once("close", leave);
  });
  // The read in flight, if any: it writes into a buffer, which must not go back to the pool before it ends.
  let reading: Promise<number> | undefined;
  try {
    let pos = from;
    let next = (reading = readInto(fh, current, pos, to));
    while (!gone) {
      const n = await next;
      reading = undefined;
      if (n === 0) {
        // The file is shorter than its size said (truncated under us): the client sees a short body.
        res.destroy();
        return;
      }
      pos += n;
      const chunk = current.subarray(0, n);
      const last = pos >= to;
      const written = last ? new Promise<void>((resolve) => res.end(chunk, resolve)) : writeChunk(res, chunk).then((ok) => void (ok || (gone = true)));
      if (!last) next = reading = readInto(fh, spare, pos, to);
      await Promise.race([written, closed]);
      if (last) return;
      [current, spare] = [spare, current];
    }
  } catch {
    // A read failed (I/O error): cut the response so the client sees an incomplete download.
    res.destroy();
  } finally {
    await reading?.catch(() => 0);
    // After the client went away a cancelled write may still hold a buffer: leave those to the GC.
    if (!gone || res.writableFinished) {
      giveBack(current);
      giveBack(spare);
    }
  }
}

async function readInto(fh: FileHandle, buf: Buffer, pos: number, to: number): Promise<number> {
  const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, to - pos), pos);
  return bytesRead;
}

/** Resolves once the socket has taken the chunk (its buffer may then be reused): true, or false when the write failed. */
function writeChunk(res: ServerResponse, chunk: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    res.write(chunk, (err) => resolve(!err));
  });
}

/** One `bytes=` range (several ranges are answered with the whole file, which RFC 9110 allows). */
export function parseRange(header: string | undefined, size: number): [number, number] | "unsatisfiable" | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return [start, end];
}
