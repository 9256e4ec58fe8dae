import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, readFile, rename, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { processExists } from "../box/lock.js";
import { JobError } from "../errors.js";
import { OutsideRootError, resolveInside } from "../fs/contain.js";
import type { SourceChecksum } from "./checksum.js";

/**
 * `$HOMELAB_CACHE_DIR/mirror`, else `$XDG_CACHE_HOME/homelab/mirror`, else
 * `~/.cache/homelab/mirror`: where partial downloads wait for the next run.
 */
export function defaultWorkDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOMELAB_CACHE_DIR) return join(env.HOMELAB_CACHE_DIR, "mirror");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "homelab", "mirror");
}

/** What a partial download was fetched from, so a resume asks for the same bytes (If-Range). */
export interface PartialMeta {
  url: string;
  etag?: string;
  lastModified?: string;
}

/** A record that a target entry holds the bytes of a source checksum (for sources that are not sha256). */
interface Ledger {
  source: SourceChecksum;
  sha256: string;
}

/**
 * homelab's mirror directory. Every name in it is built from a validated checksum (hex) or a
 * sha256 of our own, and goes through the one containment check; nothing else in the directory
 * is ever opened, replaced or removed:
 *
 *     partial/<type>-<hex>.part    the bytes so far (appended to on resume)
 *     partial/<type>-<hex>.json    where they came from (PartialMeta)
 *     partial/<type>-<hex>.lock    the pid of the mirror downloading it
 *     published/<sha256>.json      source checksum → sha256 of what the target holds
 *
 * Partials are named by the source's checksum: the same bytes named twice download once.
 */
export class MirrorWorkDir {
  private constructor(readonly root: string) {}

  static async open(root: string): Promise<MirrorWorkDir> {
    try {
      await mkdir(root, { recursive: true });
      for (const sub of ["partial", "published"]) {
        const dir = resolveInside(root, sub);
        await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "EEXIST") throw err;
        });
        const st = await lstat(dir);
        if (!st.isDirectory()) throw new OutsideRootError(`${dir}: expected a directory of homelab's, found ${st.isSymbolicLink() ? "a symlink" : "a file"}; refusing to use it`);
      }
    } catch (err) {
      if (err instanceof OutsideRootError) throw err;
      throw new JobError(`${root}: cannot use it as the mirror's work directory (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return new MirrorWorkDir(root);
  }

  partPath(sum: SourceChecksum): string {
    return resolveInside(this.root, "partial", `${stem(sum)}.part`);
  }

  /** Opens the partial file for appending (created when missing), never through a symlink. */
  async openPart(sum: SourceChecksum): Promise<FileHandle> {
    return open(this.partPath(sum), constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o644).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ELOOP") throw new OutsideRootError(`${this.partPath(sum)}: is a symlink; refusing to follow it`);
      throw err;
    });
  }

  async readMeta(sum: SourceChecksum): Promise<PartialMeta | undefined> {
    try {
      const raw = JSON.parse(await readFile(resolveInside(this.root, "partial", `${stem(sum)}.json`), { encoding: "utf8", flag: constants.O_RDONLY | constants.O_NOFOLLOW })) as Partial<PartialMeta> | null;
      if (typeof raw?.url !== "string") return undefined;
      return { url: raw.url, ...(typeof raw.etag === "string" ? { etag: raw.etag } : {}), ...(typeof raw.lastModified === "string" ? { lastModified: raw.lastModified } : {}) };
    } catch {
      return undefined;
    }
  }

  async writeMeta(sum: SourceChecksum, meta: PartialMeta): Promise<void> {
    await writeRecord(resolveInside(this.root, "partial", `${stem(sum)}.json`), `${JSON.stringify(meta)}\n`);
  }

  /** Removes the partial and its record (after a publish, or when its bytes proved wrong). */
  async dropPart(sum: SourceChecksum): Promise<void> {
    for (const ext of [".part", ".json"]) await unlink(resolveInside(this.root, "partial", `${stem(sum)}${ext}`)).catch(() => {});
  }

  /**
   * Claims the download of these bytes for this process: a lock file holding our pid, taken
   * over when its owner is gone (killed). Another live mirror holding it is a failure of this
   * file, not a wait: it is downloading the same bytes right now.
   */
  async claim(sum: SourceChecksum): Promise<() => Promise<void>> {
    const file = resolveInside(this.root, "partial", `${stem(sum)}.lock`);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        return () => unlink(file).catch(() => {});
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processExists(pid)) {
          throw new JobError(`another homelab box mirror (pid ${pid}) is downloading these bytes into ${this.root}`);
        }
        await unlink(file).catch(() => {});
      }
    }
    throw new JobError(`${file}: could not take the download lock`);
  }

  async readLedger(target: string, id: string): Promise<Ledger | undefined> {
    try {
      const raw = JSON.parse(await readFile(this.ledgerPath(target, id), { encoding: "utf8", flag: constants.O_RDONLY | constants.O_NOFOLLOW })) as Partial<Ledger> | null;
      if (typeof raw?.sha256 !== "string" || typeof raw.source?.type !== "string" || typeof raw.source.value !== "string") return undefined;
      return raw as Ledger;
    } catch {
      return undefined;
    }
  }

  async writeLedger(target: string, id: string, entry: Ledger): Promise<void> {
    await writeRecord(this.ledgerPath(target, id), `${JSON.stringify(entry)}\n`);
  }

  private ledgerPath(target: string, id: string): string {
    return resolveInside(this.root, "published", `${createHash("sha256").update(`${target}\n${id}`).digest("hex")}.json`);
  }
}

/**
 * Replaces a small record whole (temporary file + rename) but without fsync: these are caches.
 * A record lost in a crash costs a download (or a comparison of bytes), never a wrong skip:
 * a skip also needs the registry's own sha256 to match. An fsync per file costs seconds on a
 * busy disk.
 */
async function writeRecord(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, text, { flag: "wx", mode: 0o644 });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** `sha256-<hex>`: only validated types and hex digits ever reach a file name. */
function stem(sum: SourceChecksum): string {
  if (!/^(md5|sha1|sha256|sha384|sha512)$/.test(sum.type) || !/^[0-9a-f]{32,128}$/.test(sum.value)) throw new JobError(`invalid checksum ${sum.type}:${sum.value}`);
  return `${sum.type}-${sum.value}`;
}
