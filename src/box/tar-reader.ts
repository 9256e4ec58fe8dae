/**
 * A push parser for tar archives (ustar, GNU and pax), fed chunk by chunk so a box is never held
 * in memory: it keeps one 512-byte header and the contents of the entries a caller asks for
 * (bounded by `maxCapture`), and only counts the bytes of everything else.
 */

const BLOCK = 512;

export interface TarEntry {
  readonly path: string;
  readonly type: string;
  readonly size: number;
}

export class TarFormatError extends Error {}

export interface TarReaderOptions {
  /** Asked for every regular file; return true to receive its contents in `onCapture`. */
  capture(entry: TarEntry): boolean;
  onCapture(entry: TarEntry, data: Buffer): void;
  /** Largest entry that may be captured (metadata is small; a huge one is not a box). */
  maxCapture: number;
}

type State =
  | { kind: "header" }
  | { kind: "body"; entry: TarEntry; remaining: number; padding: number; chunks: Buffer[] | undefined; meta: "pax" | "longname" | undefined }
  | { kind: "padding"; remaining: number }
  | { kind: "end" };

export class TarReader {
  private state: State = { kind: "header" };
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private nextPath: string | undefined;
  private entries = 0;

  constructor(private readonly opts: TarReaderOptions) {}

  /** True once the end-of-archive marker (a zero block) was seen. */
  get ended(): boolean {
    return this.state.kind === "end";
  }

  get entryCount(): number {
    return this.entries;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const s = this.state;
      if (s.kind === "end") return; // trailing blocks (and tar's padding to a record) are ignored
      if (s.kind === "header") {
        const n = Math.min(BLOCK - this.headerFill, chunk.length - off);
        chunk.copy(this.header, this.headerFill, off, off + n);
        this.headerFill += n;
        off += n;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          this.onHeader();
        }
      } else if (s.kind === "body") {
        const n = Math.min(s.remaining, chunk.length - off);
        if (s.chunks) s.chunks.push(Buffer.from(chunk.subarray(off, off + n)));
        s.remaining -= n;
        off += n;
        if (s.remaining === 0) this.onBodyEnd(s);
      } else {
        const n = Math.min(s.remaining, chunk.length - off);
        s.remaining -= n;
        off += n;
        if (s.remaining === 0) this.state = { kind: "header" };
      }
    }
  }

  /** Throws unless the archive was complete (ended with its marker, or at least ended cleanly between entries). */
  finish(): void {
    if (this.state.kind === "end") return;
    if (this.state.kind === "header" && this.headerFill === 0 && this.entries > 0) return; // no end marker: tolerated, like GNU tar
    throw new TarFormatError(this.entries === 0 ? "not a tar archive (no entries)" : "the archive is truncated");
  }

  private onHeader(): void {
    const h = this.header;
    if (h.every((b) => b === 0)) {
      // One zero block is the end of the archive (GNU tar accepts one; the standard writes two).
      if (this.entries === 0) throw new TarFormatError("not a tar archive (it starts with an empty block)");
      this.state = { kind: "end" };
      return;
    }
    if (!checksumOk(h)) throw new TarFormatError(this.entries === 0 ? "not a tar archive" : "corrupt tar header (bad checksum)");
    this.entries++;
    const type = String.fromCharCode(h[156] || 0x30);
    const size = parseSize(h.subarray(124, 136));
    let path = this.nextPath ?? headerPath(h);
    this.nextPath = undefined;
    path = normalizePath(path);
    const entry: TarEntry = { path, type, size };
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    let meta: "pax" | "longname" | undefined;
    let capture = false;
    if (type === "x" || type === "L") {
      if (size > 1 << 20) throw new TarFormatError(`oversized ${type === "x" ? "pax" : "long name"} header`);
      meta = type === "x" ? "pax" : "longname";
      capture = true;
    } else if ((type === "0" || type === "7") && this.opts.capture(entry)) {
      if (size > this.opts.maxCapture) throw new TarFormatError(`${path} is ${size} bytes; expected at most ${this.opts.maxCapture}`);
      capture = true;
    }
    if (size === 0) {
      const s = { kind: "body" as const, entry, remaining: 0, padding, chunks: capture ? [] : undefined, meta };
      this.onBodyEnd(s);
    } else {
      this.state = { kind: "body", entry, remaining: size, padding, chunks: capture ? [] : undefined, meta };
    }
  }

  private onBodyEnd(s: Extract<State, { kind: "body" }>): void {
    if (s.chunks) {
      const data = Buffer.concat(s.chunks);
      if (s.meta === "longname") this.nextPath = data.toString("utf8").replace(/\0.*$/s, "");
      else if (s.meta === "pax") {
        const p = paxPath(data);
        if (p !== undefined) this.nextPath = p;
      } else this.opts.onCapture(s.entry, data);
    }
    this.state = s.padding > 0 ? { kind: "padding", remaining: s.padding } : { kind: "header" };
  }
}

function checksumOk(h: Buffer): boolean {
  const stored = parseOctal(h.subarray(148, 156));
  if (stored === undefined) return false;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === stored;
}

function parseOctal(field: Buffer): number | undefined {
  const text = field.toString("latin1").replace(/[\0 ]+$/, "").trim();
  if (!/^[0-7]+$/.test(text)) return undefined;
  return parseInt(text, 8);
}

function parseSize(field: Buffer): number {
  if (field[0]! & 0x80) {
    // GNU base-256 for sizes >= 8 GiB.
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const n = parseOctal(field);
  if (n === undefined) throw new TarFormatError("corrupt tar header (size)");
  return n;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString("utf8");
}

function headerPath(h: Buffer): string {
  const name = cString(h.subarray(0, 100));
  const ustar = h.subarray(257, 262).toString("latin1") === "ustar";
  const prefix = ustar ? cString(h.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

function paxPath(data: Buffer): string | undefined {
  // Records: "<len> key=value\n".
  let off = 0;
  let path: string | undefined;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    if (space < 0) break;
    const len = Number(data.subarray(off, space).toString("latin1"));
    if (!Number.isInteger(len) || len <= 0) break;
    const record = data.subarray(space + 1, off + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0 && record.slice(0, eq) === "path") path = record.slice(eq + 1);
    off += len;
  }
  return path;
}

function normalizePath(p: string): string {
  return p.replace(/^(\.\/)+/, "");
}
