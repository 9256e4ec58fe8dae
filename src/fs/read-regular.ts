import { constants } from "node:fs";
import { open } from "node:fs/promises";

/** Why a bounded read refused a path. */
export type ReadRefusal =
  | { kind: "not-regular"; what: "a directory" | "a FIFO" | "a socket" | "a device" | "not a regular file" }
  | { kind: "too-large"; size: number; limit: number };

/** Thrown by `readRegularFile` for a path that exists but must not be read. */
export class ReadRefusedError extends Error {
  constructor(
    readonly path: string,
    readonly refusal: ReadRefusal,
  ) {
    super(
      refusal.kind === "too-large"
        ? `${path}: ${refusal.size} bytes, more than the ${refusal.limit} this file may have`
        : `${path}: ${refusal.what}, expected a regular file`,
    );
    this.name = "ReadRefusedError";
  }
}

/**
 * Reads a whole file that must be a regular file of at most `maxBytes`. Opening uses O_NONBLOCK
 * so that a FIFO planted where a file is expected cannot block the open (a plain open of a FIFO
 * waits for a writer forever); the type is then checked on the open descriptor, so a file swapped
 * between a check and the open cannot slip through. The read stops at `maxBytes + 1` even if the
 * file grows meanwhile. `noFollow` refuses a symbolic link as the last component (ELOOP), for
 * files only homelab writes. Errors from open (ENOENT, EACCES, ELOOP...) are thrown unchanged.
 */
export async function readRegularFile(path: string, maxBytes: number, opts: { noFollow?: boolean } = {}): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0));
  } catch (err) {
    // Linux answers ENXIO to an open of a Unix socket.
    if ((err as NodeJS.ErrnoException).code === "ENXIO") throw new ReadRefusedError(path, { kind: "not-regular", what: "a socket" });
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new ReadRefusedError(path, { kind: "not-regular", what: describeType(st) });
    if (st.size > maxBytes) throw new ReadRefusedError(path, { kind: "too-large", size: st.size, limit: maxBytes });
    // Sized by the stat (most reads are small); grown to the limit only if the file grew.
    let buf = Buffer.allocUnsafe(st.size + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buf.length) {
        if (buf.length > maxBytes) break;
        const grown = Buffer.allocUnsafe(maxBytes + 1);
        buf.copy(grown, 0, 0, length);
        buf = grown;
      }
    }
    if (length > maxBytes) throw new ReadRefusedError(path, { kind: "too-large", size: length, limit: maxBytes });
    return buf.subarray(0, length);
  } finally {
    await handle.close();
  }
}

function describeType(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }) {
  if (st.isDirectory()) return "a directory" as const;
  if (st.isFIFO()) return "a FIFO" as const;
  if (st.isSocket()) return "a socket" as const;
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device" as const;
  return "not a regular file" as const;
}
