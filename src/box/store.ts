import { createHash, randomBytes } from "node:crypto";
import { constants, createWriteStream } from "node:fs";
import { lstat, mkdir, open, readFile, readdir, realpath, rename, rmdir, stat, unlink, type FileHandle } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HomelabError, InputError, JobError } from "../errors.js";
import { emptyCatalog, findProvider, parseCatalog, removeProviders, serializeCatalog, upsertProvider, type Catalog, type CatalogProvider } from "./catalog.js";
import { BoxInspector } from "./inspect.js";
import { processExists, withLock } from "./lock.js";
import { formatBoxRef, isBoxName, isOrg, parseArchitecture, type Architecture, type BoxRef, type BoxSelector } from "./names.js";
import { syncDir, writeFileAtomic } from "../fs/atomic-write.js";

export interface Progress {
  readonly bytes: number;
  /** Known when the source is a file or an upload with Content-Length. */
  readonly total?: number;
}

export interface PublishRequest {
  readonly box: BoxRef;
  readonly version: string;
  /** The provider the box claims to be for; taken from its metadata.json when omitted. */
  readonly provider?: string;
  /** Taken from metadata.json's `architecture` when omitted, else amd64. */
  readonly architecture?: Architecture;
  /** Replace an existing version+provider+architecture instead of failing with a conflict. */
  readonly force?: boolean;
  /** Make this architecture the provider's default (the one Vagrant < 2.4 picks). */
  readonly defaultArchitecture?: boolean;
  /** Names the source in errors (a file path, an upload). */
  readonly label: string;
  readonly total?: number;
  readonly onProgress?: (p: Progress) => void;
  readonly signal?: AbortSignal;
}

export interface PublishResult {
  readonly box: string;
  readonly version: string;
  readonly provider: string;
  readonly architecture: Architecture;
  readonly checksum: string;
  readonly size: number;
  readonly replaced: boolean;
  readonly defaultArchitecture: boolean;
}

/** An existing box version+provider+architecture (publish without --force). Exit code 1. */
export class ConflictError extends JobError {}
/** A path in the root resolves outside it (a planted symlink). Exit code 1. */
export class OutsideRootError extends JobError {}
/** Nothing matched (rm of an unknown version). Exit code 1. */
export class NotFoundError extends JobError {}

const INCOMING = ".incoming";
const CATALOG = "catalog.json";
const LOCK = ".lock";
const CHUNK = 1 << 20;

/**
 * The embedded registry store, a directory:
 *
 *     <root>/<org>/<name>/catalog.json                 Vagrant catalog (urls relative to it)
 *     <root>/<org>/<name>/<version>/<provider>-<arch>.box
 *     <root>/.incoming/<pid>.<random>.part             uploads in progress (never served)
 *
 * Every path is built from names that passed `names.ts`, and resolved paths are checked to stay
 * under the root's real path, so a symlink planted inside the root cannot lead out of it.
 */
export class BoxStore {
  private constructor(
    readonly root: string,
    private readonly realRoot: string,
  ) {}

  /** Opens a store; `create` makes the root directory when it does not exist (publish), else it must exist (serve). */
  static async open(root: string, opts: { create?: boolean } = {}): Promise<BoxStore> {
    if (opts.create) await mkdir(root, { recursive: true });
    let real: string;
    try {
      real = await realpath(root);
      if (!(await stat(real)).isDirectory()) throw new InputError(`${root}: not a directory (expected the registry root)`);
    } catch (err) {
      if (err instanceof HomelabError) throw err;
      throw new InputError(`${root}: the registry root does not exist (create it, or publish a box into it first)`);
    }
    return new BoxStore(root, real);
  }

  async readCatalog(box: BoxRef): Promise<Catalog | undefined> {
    const file = join(await this.boxDir(box, false), CATALOG);
    let text: string;
    try {
      const fh = await this.openInside(file);
      try {
        text = await fh.readFile("utf8");
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
    return parseCatalog(text, file);
  }

  /** Every box in the store (org/name with a catalog), sorted. */
  async listBoxes(): Promise<BoxRef[]> {
    const out: BoxRef[] = [];
    for (const org of (await readdir(this.realRoot)).filter(isOrg).sort()) {
      let names: string[];
      try {
        names = await readdir(join(this.realRoot, org));
      } catch {
        continue;
      }
      for (const name of names.filter(isBoxName).sort()) {
        if (await this.readCatalog({ org, name }).catch(() => undefined)) out.push({ org, name });
      }
    }
    return out;
  }

  /**
   * Streams a box into the store while hashing and inspecting it (one read), then, under the
   * box's lock, moves it into place and rewrites the catalog (temp + fsync + rename). On any
   * failure or abort, the temporary file is removed and the catalog is untouched.
   */
  async publish(source: Readable, req: PublishRequest): Promise<PublishResult> {
    if (req.provider !== undefined && req.architecture !== undefined && !req.force) {
      // Fail before copying gigabytes when the answer is already known.
      await this.assertFree(req.box, req.version, req.provider, req.architecture);
    }
    await this.sweepIncoming();
    const incoming = await this.mkdirs([INCOMING]);
    const tmp = join(incoming, `${process.pid}.${randomBytes(8).toString("hex")}.part`);
    try {
      const { checksum, size, provider, architecture } = await this.ingest(source, tmp, req);
      return await withLock(join(await this.boxDir(req.box, true), LOCK), async () => {
        const catalog = (await this.readCatalog(req.box)) ?? emptyCatalog(formatBoxRef(req.box));
        const previous = findProvider(catalog, req.version, provider, architecture);
        if (previous && !req.force) throw this.conflict(req.box, req.version, provider, architecture);
        const rel = `${req.version}/${provider}-${architecture}.box`;
        const dir = await this.boxDir(req.box, true);
        await this.mkdirs([req.box.org, req.box.name, req.version]);
        await rename(tmp, join(dir, rel));
        await syncDir(join(dir, req.version));
        const next = upsertProvider(catalog, req.version, { name: provider, url: rel, checksum_type: "sha256", checksum, architecture, size }, req.defaultArchitecture);
        await writeFileAtomic(join(dir, CATALOG), serializeCatalog(next));
        return {
          box: formatBoxRef(req.box),
          version: req.version,
          provider,
          architecture,
          checksum,
          size,
          replaced: previous !== undefined,
          defaultArchitecture: findProvider(next, req.version, provider, architecture)?.default_architecture ?? false,
        };
      });
    } finally {
      await unlink(tmp).catch(() => {}); // gone after a successful rename; a leftover otherwise
    }
  }

  /** Removes a version, or one provider (and architecture) of it: catalog first, then the files. */
  async remove(sel: BoxSelector): Promise<CatalogProvider[]> {
    const dir = await this.boxDir(sel, false);
    return withLock(join(dir, LOCK), async () => {
      const catalog = await this.readCatalog(sel);
      const { catalog: next, removed } = catalog ? removeProviders(catalog, sel.version, sel.provider, sel.architecture) : { catalog, removed: [] };
      if (!next || removed.length === 0) {
        const what = `${formatBoxRef(sel)}@${sel.version}${sel.provider ? `/${sel.provider}` : ""}${sel.architecture ? `/${sel.architecture}` : ""}`;
        throw new NotFoundError(`${what}: not in the registry ${this.root}`);
      }
      // The catalog never points at a missing file: rewrite it before deleting anything.
      if (next.versions.length === 0) await unlink(join(dir, CATALOG));
      else await writeFileAtomic(join(dir, CATALOG), serializeCatalog(next));
      for (const p of removed) await unlink(join(dir, p.url)).catch(() => {});
      await rmdir(join(dir, sel.version)).catch(() => {});
      return removed;
    });
  }

  /**
   * Opens a published box for reading, or undefined when the catalog does not list it. The file
   * is opened without following a symlink and must lie under the root.
   */
  async openBox(box: BoxRef, version: string, provider: string, architecture: string): Promise<{ fh: FileHandle; size: number; entry: CatalogProvider } | undefined> {
    const catalog = await this.readCatalog(box);
    const entry = catalog && findProvider(catalog, version, provider, architecture);
    if (!entry) return undefined;
    const file = join(await this.boxDir(box, false), `${version}/${provider}-${architecture}.box`);
    try {
      const fh = await this.openInside(file);
      const st = await fh.stat();
      if (!st.isFile()) {
        await fh.close();
        return undefined;
      }
      return { fh, size: st.size, entry };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  /** Removes temporary files left by publishes whose process is gone (killed mid-copy). */
  async sweepIncoming(): Promise<string[]> {
    let files: string[];
    try {
      files = await readdir(join(this.realRoot, INCOMING));
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const f of files) {
      // Only names publish gives its uploads (<pid>.<16 hex>.part): anything else is not ours.
      if (!/^\d+\.[0-9a-f]{16}\.part$/.test(f)) continue;
      const pid = Number(f.split(".")[0]);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processExists(pid)) continue;
      if (pid === process.pid) continue; // ours: in flight right now
      await unlink(join(this.realRoot, INCOMING, f)).then(() => removed.push(f), () => {});
    }
    return removed;
  }

  private async ingest(source: Readable, tmp: string, req: PublishRequest): Promise<{ checksum: string; size: number; provider: string; architecture: Architecture }> {
    const hash = createHash("sha256");
    const inspector = new BoxInspector(req.label);
    let bytes = 0;
    let lastReport = 0;
    const tee = new Transform({
      highWaterMark: CHUNK,
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        if (req.onProgress && bytes - lastReport >= 8 * CHUNK) {
          lastReport = bytes;
          req.onProgress(req.total === undefined ? { bytes } : { bytes, total: req.total });
        }
        inspector.write(chunk).then(() => done(null, chunk), done);
      },
    });
    try {
      await pipeline(source, tee, createWriteStream(tmp, { flags: "wx", mode: 0o644, highWaterMark: 4 * CHUNK }), req.signal ? { signal: req.signal } : {});
    } catch (err) {
      inspector.destroy();
      if (err instanceof HomelabError) throw err;
      if ((err as Error).name === "AbortError") throw new JobError(`${req.label}: publish aborted`, { cause: err });
      if (isMissing(err)) throw new InputError(`${req.label}: no such file`);
      throw new JobError(`${req.label}: copy failed: ${(err as Error).message}`, { cause: err });
    }
    req.onProgress?.(req.total === undefined ? { bytes } : { bytes, total: req.total });
    const info = await inspector.end(req.provider);
    const architecture = req.architecture ?? (info.metadata.architecture ? parseArchitecture(info.metadata.architecture, `${req.label}: metadata.json architecture`) : "amd64");
    const fh = await open(tmp, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { checksum: hash.digest("hex"), size: bytes, provider: info.metadata.provider, architecture };
  }

  private async assertFree(box: BoxRef, version: string, provider: string, architecture: string): Promise<void> {
    const catalog = await this.readCatalog(box);
    if (catalog && findProvider(catalog, version, provider, architecture)) throw this.conflict(box, version, provider, architecture);
  }

  private conflict(box: BoxRef, version: string, provider: string, architecture: string): ConflictError {
    return new ConflictError(`${formatBoxRef(box)}@${version}/${provider}/${architecture} is already published (use --force to replace it)`);
  }

  /** `<root>/<org>/<name>`, created on demand, checked to resolve inside the root. */
  private async boxDir(box: BoxRef, create: boolean): Promise<string> {
    if (!isOrg(box.org) || !isBoxName(box.name)) throw new InputError(`invalid box name ${JSON.stringify(formatBoxRef(box))}`);
    const dir = create ? await this.mkdirs([box.org, box.name]) : join(this.realRoot, box.org, box.name);
    await this.assertInside(dir).catch((err: unknown) => {
      if (!create && isMissing(err)) return;
      throw err;
    });
    return dir;
  }

  /**
   * Creates `<root>/a/b/...` one level at a time, refusing any level that exists as something
   * other than a real directory: `mkdir -p` would follow a planted symlink and create
   * directories outside the root.
   */
  private async mkdirs(parts: readonly string[]): Promise<string> {
    let dir = this.realRoot;
    for (const part of parts) {
      dir = join(dir, part);
      try {
        await mkdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const st = await lstat(dir);
      if (!st.isDirectory()) throw new OutsideRootError(`${dir}: expected a directory inside the registry root, found ${st.isSymbolicLink() ? "a symlink" : "a file"}; refusing to use it`);
    }
    return dir;
  }

  private async assertInside(path: string): Promise<void> {
    const real = await realpath(path);
    const rel = relative(this.realRoot, real);
    if (rel === "" || rel.startsWith("..") || rel.startsWith(sep) || real === rel) {
      throw new OutsideRootError(`${path}: resolves outside the registry root ${this.root} (a symlink?); refusing to use it`);
    }
  }

  /** Opens a file read-only, refusing a symlink as the last component and any directory symlink leading out of the root. */
  private async openInside(file: string): Promise<FileHandle> {
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ELOOP") throw new OutsideRootError(`${file}: is a symlink; refusing to follow it`);
      throw err;
    });
    try {
      await this.assertInside(file);
    } catch (err) {
      await fh.close();
      throw err;
    }
    return fh;
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
