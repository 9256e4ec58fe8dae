import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { TarReader, type TarEntry } from "../../src/box/tar-reader.js";
import { TARFILE_TOOL } from "./tar-corpus.js";

/** One member as every lister below reports it, for comparing them. */
export interface Listed {
  readonly path: string;
  readonly kind: string;
  readonly size: number;
  /** Symlinks: the target as stored; hard links: the target member's normalised path. */
  readonly link: string;
}

/** `./a//b/` → `a/b`; the top directory → `.`. */
export function norm(p: string): string {
  const s = p
    .split("/")
    .filter((c) => c !== "" && c !== ".")
    .join("/");
  return s === "" ? "." : s;
}

function listed(path: string, kind: string, size: number, link: string): Listed {
  return { path: norm(path), kind, size, link: kind === "hardlink" ? norm(link) : link };
}

export interface OurRead {
  readonly entries: (Listed & { readonly sparse: boolean; readonly storedSize: number })[];
  /** sha256 of each captured file's (expanded) contents, by normalised path. */
  readonly contents: Map<string, string>;
  /** sha256 of the archive file, computed in the same pass. */
  readonly fileSha256: string;
}

/**
 * Reads an archive with homelab's TarReader the way publish does, in one pass over the file
 * that also hashes it; each chunk is cut into odd pieces (1, 511, 513 bytes…) so headers, maps
 * and bodies are split at every kind of boundary.
 */
export async function readWithOurs(file: string, maxCapture = 64 << 20): Promise<OurRead> {
  const entries: OurRead["entries"] = [];
  const contents = new Map<string, string>();
  const reader = new TarReader({
    onEntry: (e: TarEntry) => {
      entries.push({ ...listed(e.path, e.kind, e.size, e.linkpath), sparse: e.sparse, storedSize: e.storedSize });
      return e.kind === "file" && e.size <= maxCapture;
    },
    onCapture: (e, data) => void contents.set(norm(e.path), createHash("sha256").update(data).digest("hex")),
    maxCapture,
  });
  const pieces = [1, 511, 513, 7, 4096, 100_000, 512, 3];
  let i = 0;
  const feed = (chunk: Buffer): void => {
    for (let off = 0; off < chunk.length; ) {
      const n = pieces[i++ % pieces.length]!;
      reader.push(chunk.subarray(off, off + n));
      off += n;
    }
  };
  const hash = createHash("sha256");
  let gz: ReturnType<typeof createGunzip> | undefined;
  let gzEnded: Promise<unknown> = Promise.resolve();
  let first = true;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 })) {
    const buf = chunk as Buffer;
    if (first && buf[0] === 0x1f && buf[1] === 0x8b) {
      const z = (gz = createGunzip());
      z.on("data", feed);
      gzEnded = new Promise((resolve, reject) => z.on("end", resolve).on("error", reject));
    }
    first = false;
    hash.update(buf);
    if (!gz) feed(buf);
    else if (!gz.write(buf)) await new Promise((r) => gz!.once("drain", r));
  }
  gz?.end();
  await gzEnded;
  reader.finish();
  return { entries, contents, fileSha256: hash.digest("hex") };
}

/** What Python's tarfile reports (types, logical sizes, and a sha256 of each file up to 64 MiB). */
export function pythonListing(file: string): { entries: Listed[]; contents: Map<string, string> } {
  const raw = JSON.parse(execFileSync("python3", [TARFILE_TOOL, "list", file], { maxBuffer: 64 << 20 }).toString("utf8")) as {
    name: string;
    type: string;
    size: number;
    linkname: string;
    sha256?: string;
  }[];
  const contents = new Map<string, string>();
  for (const m of raw) if (m.sha256 !== undefined) contents.set(norm(m.name), m.sha256);
  return { entries: raw.map((m) => listed(m.name, m.type, m.type === "file" ? m.size : 0, m.linkname)), contents };
}

const GNU_KINDS: Readonly<Record<string, string>> = { "-": "file", h: "hardlink", l: "symlink", d: "directory", c: "char-device", b: "block-device", p: "fifo" };

/** What GNU `tar -tv` reports (the first column's type, the size column, the name, the link). */
export function gnuTarListing(file: string): Listed[] {
  const out = execFileSync("tar", ["-tvf", file, "--numeric-owner", "--quoting-style=literal"], {
    env: { ...process.env, LC_ALL: "C.UTF-8" },
    maxBuffer: 64 << 20,
  }).toString("utf8");
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map((line) => {
      const m = /^(.)\S{9} +\S+ +(\d+|\d+, *\d+) +\d{4}-\d\d-\d\d \d\d:\d\d (.*)$/.exec(line);
      if (!m) throw new Error(`cannot parse tar -tv line: ${line}`);
      const kind = GNU_KINDS[m[1]!] ?? `other:${m[1]}`;
      let name = m[3]!;
      let link = "";
      const sep = kind === "symlink" ? " -> " : kind === "hardlink" ? " link to " : undefined;
      if (sep) [name, link] = [name.slice(0, name.indexOf(sep)), name.slice(name.indexOf(sep) + sep.length)];
      return listed(name, kind, kind === "file" ? Number(m[2]) : 0, link);
    });
}
