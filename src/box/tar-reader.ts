/**
 * A push parser for tar archives, fed chunk by chunk so a box is never held in memory: it keeps
 * one 512-byte block, the extension headers of the member at hand (bounded), and the contents
 * of the members a caller asks for (bounded by `maxCapture`); it only counts the bytes of
 * everything else.
 *
 * It reads what real tools write: POSIX ustar and pax (local and global extended headers,
 * `path`, `linkpath` and `size` overrides), GNU and old GNU (whose bytes 345–500 hold access and
 * change times and sparse maps, not a name prefix; `././@LongLink` long names and link targets;
 * sparse members with extension headers and any number of segments; base-256 numbers), GNU
 * sparse in pax form (0.0, 0.1 and 1.0, whose map is at the start of the data), and v7.
 *
 * It refuses what tar implementations disagree about, so that what homelab checks is what
 * Vagrant's bsdtar will extract: a link, directory or device with a body, a sparse map that
 * does not add up to its data, a malformed extended header.
 */

const BLOCK = 512;
/** Largest extended header (pax, long name): real ones are a few hundred bytes. */
const MAX_META = 1 << 20;
/** Extended headers before one member (GNU tar writes at most 3: x, L, K). */
const MAX_META_RUN = 16;

export type TarEntryKind = "file" | "hardlink" | "symlink" | "directory" | "char-device" | "block-device" | "fifo" | "other";

export interface TarEntry {
  /** The name as stored (after pax `path`, a GNU long name, or `GNU.sparse.name`), not normalised. */
  readonly path: string;
  readonly kind: TarEntryKind;
  /** The header's type flag ("0", "S", "5", …). */
  readonly typeflag: string;
  /** Logical size: what extraction writes (a sparse file's real size, holes included); 0 unless a file. */
  readonly size: number;
  /** Bytes of the member's data in the archive (a sparse file stores only its data segments). */
  readonly storedSize: number;
  readonly sparse: boolean;
  /** Target of a symlink or hard link, as stored; "" otherwise. */
  readonly linkpath: string;
}

export class TarFormatError extends Error {}

export interface TarReaderOptions {
  /**
   * Called for every member before its data; return true to receive a file's contents in
   * `onCapture` (sparse files come expanded, holes as zeros). Throwing stops the reader.
   */
  onEntry(entry: TarEntry): boolean | void;
  onCapture?(entry: TarEntry, data: Buffer): void;
  /** Largest (logical) size a captured member may have. */
  maxCapture: number;
}

type Segment = readonly [offset: number, length: number];

/** Checks a sparse map as it goes by: ascending, non-overlapping, inside the file. */
class SparseMap {
  readonly segments: Segment[] = [];
  private end = 0;
  private dataBytes = 0;
  count = 0;

  constructor(
    private readonly realSize: number,
    private readonly keep: boolean,
  ) {}

  add(offset: number, length: number): void {
    if (offset < this.end || offset + length > this.realSize) throw new TarFormatError("corrupt sparse map (segments overlap or lie past the end of the file)");
    this.end = offset + length;
    this.dataBytes += length;
    this.count++;
    if (this.keep && length > 0) this.segments.push([offset, length]);
  }

  /** The data the map describes must be exactly the data stored. */
  finish(stored: number, path: string): void {
    if (this.dataBytes !== stored) throw new TarFormatError(`${JSON.stringify(path)}: its sparse map describes ${this.dataBytes} bytes of data, but ${stored} are stored`);
  }
}

interface Pending {
  entry: TarEntry;
  capture: boolean;
  /** GNU sparse 1.0: bytes of the map at the start of the data, still to parse. */
  sparse10?: { text: string; numbers: number[]; want: number | undefined; realSize: number };
  map?: SparseMap;
}

type Need =
  | { kind: "collect"; buf: Buffer; fill: number; done: (buf: Buffer) => void; header?: true }
  | { kind: "stream"; remaining: number; sink: ((chunk: Buffer) => void) | undefined; done: () => void }
  | { kind: "end" };

interface Header {
  name: string;
  typeflag: string;
  size: number;
  linkname: string;
  gnu: boolean;
  block: Buffer;
}

export class TarReader {
  private need: Need = this.headerNeed();
  private entries = 0;
  private blocks = 0;
  /** Extensions for the next member: pax records, GNU long name and link. */
  private local = new Map<string, string>();
  private localSparse00: number[] | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private metaRun = 0;
  private readonly global = new Map<string, string>();

  constructor(private readonly opts: TarReaderOptions) {}

  /** True once the end-of-archive marker (a zero block) was seen. */
  get ended(): boolean {
    return this.need.kind === "end";
  }

  /** Members seen (extension headers not counted). */
  get entryCount(): number {
    return this.entries;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const need = this.need;
      if (need.kind === "end") return; // trailing blocks (and tar's padding to a record) are ignored
      if (need.kind === "collect") {
        const n = Math.min(need.buf.length - need.fill, chunk.length - off);
        chunk.copy(need.buf, need.fill, off, off + n);
        need.fill += n;
        off += n;
        if (need.fill === need.buf.length) need.done(need.buf);
      } else {
        const n = Math.min(need.remaining, chunk.length - off);
        need.sink?.(chunk.subarray(off, off + n));
        need.remaining -= n;
        off += n;
        if (need.remaining === 0) need.done();
      }
    }
  }

  /** Throws unless the archive was complete (ended with its marker, or at least ended cleanly between members). */
  finish(): void {
    if (this.need.kind === "end") return;
    const between = this.need.kind === "collect" && this.need.header === true && this.need.fill === 0;
    if (between && this.entries > 0 && this.metaRun === 0) return; // no end marker: tolerated, like GNU tar
    throw new TarFormatError(this.blocks === 0 ? "not a tar archive (no entries)" : "the archive is truncated");
  }

  private headerNeed(): Need {
    return { kind: "collect", buf: Buffer.alloc(BLOCK), fill: 0, done: (b) => this.onHeader(b), header: true };
  }

  private skip(bytes: number, then: () => void): void {
    if (bytes === 0) return then();
    this.need = { kind: "stream", remaining: bytes, sink: undefined, done: then };
  }

  private onHeader(block: Buffer): void {
    if (isZero(block)) {
      // One zero block ends the archive (GNU tar and libarchive stop there too; the standard writes two).
      if (this.blocks === 0) throw new TarFormatError("not a tar archive (it starts with an empty block)");
      if (this.metaRun > 0) throw new TarFormatError("the archive ends after an extended header, before its member");
      this.need = { kind: "end" };
      return;
    }
    if (!checksumOk(block)) throw new TarFormatError(this.blocks === 0 ? "not a tar archive" : "corrupt tar header (bad checksum)");
    this.blocks++;
    const h = parseHeader(block);
    const meta = metaKind(h.typeflag);
    if (meta) return this.readMeta(h, meta);
    this.metaRun = 0;
    this.onMember(h);
  }

  private readMeta(h: Header, meta: "pax" | "global" | "longname" | "longlink"): void {
    if (++this.metaRun > MAX_META_RUN) throw new TarFormatError(`more than ${MAX_META_RUN} extended headers in a row`);
    if (h.size > MAX_META) throw new TarFormatError(`oversized extended header (${h.size} bytes)`);
    const done = (data: Buffer): void => {
      if (meta === "longname") this.longName = cString(data);
      else if (meta === "longlink") this.longLink = cString(data);
      else this.paxRecords(data, meta === "global" ? this.global : this.local, meta === "pax");
      this.skip(padding(h.size), () => (this.need = this.headerNeed()));
    };
    if (h.size === 0) return done(Buffer.alloc(0));
    this.need = { kind: "collect", buf: Buffer.alloc(h.size), fill: 0, done };
  }

  /** Parses "<len> key=value\n" records into `into`; an empty value removes the key. */
  private paxRecords(data: Buffer, into: Map<string, string>, local: boolean): void {
    let off = 0;
    while (off < data.length) {
      // Some writers pad the header with NULs.
      if (data[off] === 0) break;
      const space = data.indexOf(0x20, off);
      const lenText = space < 0 ? "" : data.subarray(off, space).toString("latin1");
      const len = /^[0-9]{1,7}$/.test(lenText) ? Number(lenText) : NaN;
      if (!(len > space - off + 1) || off + len > data.length || data[off + len - 1] !== 0x0a) throw new TarFormatError("malformed pax extended header");
      const record = data.subarray(space + 1, off + len - 1);
      const eq = record.indexOf(0x3d);
      if (eq <= 0) throw new TarFormatError("malformed pax extended header (a record without key=value)");
      const key = record.subarray(0, eq).toString("utf8");
      const value = record.subarray(eq + 1).toString("utf8");
      if (local && (key === "GNU.sparse.offset" || key === "GNU.sparse.numbytes")) {
        // Sparse 0.0 repeats these two keys, one pair per segment: keep them in order.
        (this.localSparse00 ??= []).push(decimal(value, key));
      } else if (value === "") into.delete(key);
      else into.set(key, value);
      off += len;
    }
  }

  private onMember(h: Header): void {
    const pax = new Map([...this.global, ...this.local]);
    const sparse00 = this.localSparse00;
    const longName = this.longName;
    const longLink = this.longLink;
    this.local = new Map();
    this.localSparse00 = undefined;
    this.longName = undefined;
    this.longLink = undefined;

    let path = pax.get("path") ?? longName ?? h.name;
    const linkpath = pax.get("linkpath") ?? longLink ?? h.linkname;
    const storedSize = pax.has("size") ? decimal(pax.get("size")!, "size") : h.size;
    let kind = kindOf(h.typeflag);
    // v7 (and some old writers) mark directories by a trailing slash on a regular file.
    if (kind === "file" && (h.typeflag === "0" || h.typeflag === "\0") && path.endsWith("/")) kind = "directory";
    if (kind !== "file" && kind !== "other" && storedSize !== 0) {
      // Python skips no data for these, GNU tar and libarchive do: refuse the ambiguity.
      throw new TarFormatError(`${JSON.stringify(path)}: a ${kind} member with ${storedSize} bytes of data`);
    }

    let size = kind === "file" ? storedSize : 0;
    let sparse = false;
    let sparseOld: { realSize: number; slots: Buffer; extended: boolean } | undefined;
    let sparse10: Pending["sparse10"];
    let sparseList: number[] | undefined;
    if (h.typeflag === "S") {
      // Old GNU sparse: up to 4 segments in the header, more in extension blocks after it.
      sparse = true;
      const realSize = numeric(h.block.subarray(483, 495), "sparse size");
      sparseOld = { realSize, slots: h.block.subarray(386, 482), extended: h.block[482] !== 0 };
      size = realSize;
    } else if (kind === "file" && pax.get("GNU.sparse.major") === "1" && pax.get("GNU.sparse.minor") === "0") {
      sparse = true;
      size = decimal(pax.get("GNU.sparse.realsize") ?? pax.get("GNU.sparse.size") ?? "", "GNU.sparse.realsize");
      sparse10 = { text: "", numbers: [], want: undefined, realSize: size };
    } else if (kind === "file" && pax.has("GNU.sparse.map")) {
      sparse = true;
      size = decimal(pax.get("GNU.sparse.size") ?? "", "GNU.sparse.size");
      const text = pax.get("GNU.sparse.map")!;
      sparseList = text === "" ? [] : text.split(",").map((n) => decimal(n, "GNU.sparse.map"));
    } else if (kind === "file" && sparse00) {
      sparse = true;
      size = decimal(pax.get("GNU.sparse.size") ?? "", "GNU.sparse.size");
      sparseList = sparse00;
    } else if (kind === "file" && pax.has("GNU.sparse.major")) {
      throw new TarFormatError(`${JSON.stringify(path)}: unknown GNU sparse format ${pax.get("GNU.sparse.major")}.${pax.get("GNU.sparse.minor") ?? "?"}`);
    }
    if (sparse && pax.has("GNU.sparse.name")) path = pax.get("GNU.sparse.name")!;
    if (sparseList && sparseList.length % 2 !== 0) throw new TarFormatError(`${JSON.stringify(path)}: corrupt sparse map (odd number of values)`);
    if (sparseList && pax.has("GNU.sparse.numblocks") && decimal(pax.get("GNU.sparse.numblocks")!, "GNU.sparse.numblocks") * 2 !== sparseList.length) {
      throw new TarFormatError(`${JSON.stringify(path)}: corrupt sparse map (GNU.sparse.numblocks disagrees with the map)`);
    }

    const entry: TarEntry = { path, kind, typeflag: h.typeflag, size, storedSize, sparse, linkpath: kind === "symlink" || kind === "hardlink" ? linkpath : "" };
    this.entries++;
    const wants = this.opts.onEntry(entry) === true && kind === "file";
    if (wants && size > this.opts.maxCapture) throw new TarFormatError(`${JSON.stringify(path)} is ${size} bytes; expected at most ${this.opts.maxCapture}`);
    const p: Pending = { entry, capture: wants };
    if (sparse) p.map = new SparseMap(size, wants);
    if (sparseList) for (let i = 0; i < sparseList.length; i += 2) p.map!.add(sparseList[i]!, sparseList[i + 1]!);
    if (sparse10) p.sparse10 = sparse10;

    if (sparseOld) {
      addOldSparse(p.map!, sparseOld.slots, 4);
      if (sparseOld.extended) return this.readSparseExtensions(p);
    }
    this.readData(p);
  }

  /** Old GNU sparse extension blocks: 21 more segments each, byte 504 says whether another follows. */
  private readSparseExtensions(p: Pending): void {
    this.need = {
      kind: "collect",
      buf: Buffer.alloc(BLOCK),
      fill: 0,
      done: (b) => {
        addOldSparse(p.map!, b.subarray(0, 504), 21);
        if (b[504] !== 0) this.readSparseExtensions(p);
        else this.readData(p);
      },
    };
  }

  private readData(p: Pending): void {
    const stored = p.entry.storedSize;
    if (p.sparse10) return this.readSparse10Map(p, stored);
    p.map?.finish(stored, p.entry.path);
    this.readBody(p, stored, stored);
  }

  /** GNU sparse 1.0: decimal numbers, one a line (count, then offset/length pairs), padded to a block. */
  private readSparse10Map(p: Pending, remaining: number): void {
    const s = p.sparse10!;
    if (remaining < BLOCK) throw new TarFormatError(`${JSON.stringify(p.entry.path)}: corrupt sparse map (past the member's data)`);
    this.need = {
      kind: "collect",
      buf: Buffer.alloc(BLOCK),
      fill: 0,
      done: (b) => {
        s.text += b.toString("latin1");
        const lines = s.text.split("\n");
        s.text = lines.pop()!;
        for (const line of lines) {
          const n = decimal(line, "GNU sparse map");
          if (s.want === undefined) s.want = n * 2;
          else s.numbers.push(n);
          if (s.numbers.length >= 2) {
            p.map!.add(s.numbers[0]!, s.numbers[1]!);
            s.numbers.length = 0;
          }
          if (s.want !== undefined && p.map!.count * 2 === s.want) break;
        }
        if (s.want !== undefined && p.map!.count * 2 === s.want) {
          delete p.sparse10;
          const data = remaining - BLOCK;
          p.map!.finish(data, p.entry.path);
          return this.readBody(p, data, p.entry.storedSize);
        }
        if (s.text.length > 64) throw new TarFormatError(`${JSON.stringify(p.entry.path)}: corrupt sparse map`);
        this.readSparse10Map(p, remaining - BLOCK);
      },
    };
  }

  /** `data` bytes of contents, then padding to the block that ends `stored` bytes. */
  private readBody(p: Pending, data: number, stored: number): void {
    const after = (): void => this.skip(padding(stored), () => (this.need = this.headerNeed()));
    if (!p.capture) return this.skip(data, after);
    const out = Buffer.alloc(p.entry.size);
    let written = 0;
    // Where each stored byte goes: in order, segment after segment (a plain file is one segment).
    const segments: readonly Segment[] = p.map ? p.map.segments : [[0, data]];
    let seg = 0;
    let inSeg = 0;
    const sink = (chunk: Buffer): void => {
      let off = 0;
      while (off < chunk.length) {
        const [offset, length] = segments[seg]!;
        const n = Math.min(length - inSeg, chunk.length - off);
        chunk.copy(out, offset + inSeg, off, off + n);
        off += n;
        inSeg += n;
        written += n;
        if (inSeg === length) {
          seg++;
          inSeg = 0;
        }
      }
    };
    const done = (): void => {
      if (written !== data) throw new TarFormatError("internal: captured data does not match its size");
      this.opts.onCapture?.(p.entry, out);
      after();
    };
    if (data === 0) return done();
    this.need = { kind: "stream", remaining: data, sink, done };
  }
}

function addOldSparse(map: SparseMap, slots: Buffer, count: number): void {
  for (let i = 0; i < count; i++) {
    const slot = slots.subarray(i * 24, i * 24 + 24);
    // GNU tar stops at the first unused slot (an empty length field).
    if (slot[12] === 0) return;
    map.add(numeric(slot.subarray(0, 12), "sparse offset"), numeric(slot.subarray(12, 24), "sparse length"));
  }
}

function metaKind(typeflag: string): "pax" | "global" | "longname" | "longlink" | undefined {
  switch (typeflag) {
    case "x":
    case "X": // Solaris' name for the same header
      return "pax";
    case "g":
      return "global";
    case "L":
      return "longname";
    case "K":
      return "longlink";
    default:
      return undefined;
  }
}

function kindOf(typeflag: string): TarEntryKind {
  switch (typeflag) {
    case "0":
    case "\0":
    case "7": // contiguous file: a regular file everywhere
    case "S":
      return "file";
    case "1":
      return "hardlink";
    case "2":
      return "symlink";
    case "3":
      return "char-device";
    case "4":
      return "block-device";
    case "5":
      return "directory";
    case "6":
      return "fifo";
    default:
      return "other";
  }
}

function parseHeader(block: Buffer): Header {
  const magic = block.subarray(257, 265).toString("latin1");
  // GNU: "ustar  \0" — bytes 345.. are times and sparse data. POSIX: "ustar\0" "00" — a name prefix.
  const gnu = magic === "ustar  \0";
  const posix = magic.startsWith("ustar\0");
  let name = cString(block.subarray(0, 100));
  if (posix) {
    // star writes "tar\0" at 508 and keeps times after a 131-byte prefix.
    const prefix = cString(block.subarray(345, block.subarray(508, 512).toString("latin1") === "tar\0" ? 476 : 500));
    if (prefix) name = `${prefix}/${name}`;
  }
  return {
    name,
    typeflag: String.fromCharCode(block[156]!),
    size: numeric(block.subarray(124, 136), "size"),
    linkname: cString(block.subarray(157, 257)),
    gnu,
    block,
  };
}

function checksumOk(h: Buffer): boolean {
  const field = h.subarray(148, 156).toString("latin1").replace(/[\0 ]+$/, "").trim();
  if (!/^[0-7]{1,8}$/.test(field)) return false;
  const stored = parseInt(field, 8);
  // Unsigned as the standard says; signed as some old tars computed it (GNU tar and Python accept both).
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** An octal field, or GNU's base-256 (high bit set) for values that do not fit. */
function numeric(field: Buffer, what: string): number {
  if (field[0]! & 0x80) {
    // Two's complement over the field, the marker bit aside: 0x40 is the sign.
    if (field[0]! & 0x40) throw new TarFormatError(`corrupt tar header (negative ${what})`);
    let n = field[0]! & 0x3f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    if (!Number.isSafeInteger(n)) throw new TarFormatError(`corrupt tar header (${what} too large)`);
    return n;
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`corrupt tar header (${what})`);
  const n = parseInt(text, 8);
  if (!Number.isSafeInteger(n)) throw new TarFormatError(`corrupt tar header (${what} too large)`);
  return n;
}

function decimal(text: string, what: string): number {
  const n = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new TarFormatError(`corrupt extended header (${what}: ${JSON.stringify(text.slice(0, 40))})`);
  return n;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString("utf8");
}

function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
