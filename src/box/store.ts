import { constants, createWriteStream } from "node:fs";
import { lstat, mkdir, open, readdir, rename, rmdir, stat, statfs, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HomelabError, InputError, JobError } from "../errors.js";
import { OutsideRootError, resolveInside } from "../fs/contain.js";
import type { BoxBackend, BoxFields, LocalDownload, VersionChange } from "./backend.js";
import { emptyCatalog, findProvider, parseCatalog, removeProviders, serializeCatalog, sortCatalog, upsertProvider, type Catalog, type CatalogProvider, type CatalogVersion, type VersionStatus } from "./catalog.js";
import { BoxIngest, tooLarge, type Ingested } from "./ingest.js";
import { boxFile, CATALOG, entryFile, INCOMING, isStalePart, LOCK, newPartName, releasePart } from "./layout.js";
import { withLock } from "./lock.js";
import { formatBoxRef, isArchitecture, isBoxName, isOrg, isVersion, parseProvider, type Architecture, type BoxRef, type BoxSelector } from "./names.js";
import { syncDir, writeFileAtomic } from "../fs/atomic-write.js";

export { OutsideRootError } from "../fs/contain.js";

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
  /** Taken from metadata.json's `architecture` when omitted, else amd64; must agree with it when both are given. */
  readonly architecture?: Architecture;
  /** Replace an existing version+provider+architecture instead of failing with a conflict. */
  readonly force?: boolean;
  /** Make this architecture the provider's default (the one Vagrant < 2.4 picks). */
  readonly defaultArchitecture?: boolean;
  /** Names the source in errors (a file path, an upload). */
  readonly label: string;
  readonly total?: number;
  /** Stop (UploadTooLargeError) once the source has given more than this many bytes. */
  readonly maxBytes?: number;
  readonly onProgress?: (p: Progress) => void;
  readonly signal?: AbortSignal;
  /** The release state of the version when this upload creates it (default active, as before release states). */
  readonly status?: VersionStatus;
  /**
   * Runs after the box was read and checked, before anything is published; throwing refuses the
   * upload (a checksum the client promised, a provider nobody announced). Under the box's lock.
   */
  readonly beforeCommit?: (box: { checksum: string; size: number; provider: string; architecture: Architecture; catalog: Catalog | undefined }) => void | Promise<void>;
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
  /** The version's release state after the publish (absent from servers before release states: active). */
  readonly status?: VersionStatus;
}

/** An existing box version+provider+architecture (publish without --force). Exit code 1. */
export class ConflictError extends JobError {
  constructor(message: string, opts: { details?: readonly string[]; cause?: unknown } = {}) {
    super(message, { ...opts, kind: "exists" });
  }
}
/** Nothing matched (rm of an unknown version). Exit code 1. */
export class NotFoundError extends JobError {}
/** The source is larger than the configured maximum. Exit code 2. */
export class UploadTooLargeError extends InputError {}
/** The registry's filesystem is full (ENOSPC, EDQUOT, or not enough free space for a known size). Exit code 1. */
export class NoSpaceError extends JobError {}
/** A catalog.json that does not parse; `homelab box fsck` reports it, nothing rewrites it. Exit code 1. */
export class CorruptCatalogError extends JobError {
  constructor(
    readonly box: string,
    message: string,
  ) {
    super(message);
  }
}

const CHUNK = 1 << 20;
/** Kept free beyond an upload's size: its catalog, its lock, the directory entries. */
const FREE_SPACE_MARGIN = 1 << 20;

/**
 * The embedded registry store, a directory (layout in layout.ts). Every path it reads, writes,
 * renames or unlinks is built by `path()`, the one containment check (resolveInside), from
 * names that passed names.ts; files are opened without following a last-component symlink.
 */
export class BoxStore implements BoxBackend {
  private constructor(
    readonly root: string,
    private readonly realRoot: string,
  ) {}

  /** Opens a store; `create` makes the root directory when it does not exist (publish), else it must exist (serve). */
  static async open(root: string, opts: { create?: boolean } = {}): Promise<BoxStore> {
    if (opts.create) {
      await mkdir(root, { recursive: true }).catch((err: unknown) => {
        throw new InputError(`${root}: cannot create the registry root (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      });
    }
    let real: string;
    try {
      real = resolveInside(root);
      if (!(await stat(real)).isDirectory()) throw new InputError(`${root}: not a directory (expected the registry root)`);
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(`${root}: the registry root does not exist (create it, or publish a box into it first)`);
    }
    return new BoxStore(root, real);
  }

  get label(): string {
    return `directory ${this.root}`;
  }

  /** `<root>/<segments...>` after the containment check (throws OutsideRootError). */
  path(...segments: string[]): string {
    return resolveInside(this.realRoot, ...segments);
  }

  async readCatalog(box: BoxRef): Promise<Catalog | undefined> {
    checkRef(box);
    const file = this.path(box.org, box.name, CATALOG);
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
    try {
      return parseCatalog(text, file);
    } catch (err) {
      throw new CorruptCatalogError(formatBoxRef(box), `${(err as Error).message} (run \`homelab box fsck\`)`);
    }
  }

  /**
   * Writes a box's catalog (temp + fsync + rename), or removes it when no version is left,
   * unless the box was created on its own (Vagrant's API): that one stays until it is deleted.
   * Call under the box's lock.
   */
  async writeCatalog(box: BoxRef, catalog: Catalog): Promise<void> {
    const file = this.path(box.org, box.name, CATALOG);
    if (catalog.versions.length === 0 && catalog.created_at === undefined) await unlink(file).catch(ignoreMissing);
    else await writeFileAtomic(file, serializeCatalog(catalog));
  }

  /**
   * Every box directory in the store (valid org/name, a real directory), sorted, with or without
   * a catalog. A symlink at either level is skipped (never followed) and passed to `onSymlink`.
   */
  async listBoxDirs(onSymlink?: (rel: string) => void): Promise<BoxRef[]> {
    const out: BoxRef[] = [];
    const kind = async (...parts: string[]): Promise<"dir" | "link" | "other"> => {
      const st = await lstat(join(this.realRoot, ...parts)).catch(() => undefined);
      return st?.isDirectory() ? "dir" : st?.isSymbolicLink() ? "link" : "other";
    };
    for (const org of (await readdir(this.realRoot)).filter(isOrg).sort()) {
      const k = await kind(org);
      if (k === "link") onSymlink?.(org);
      if (k !== "dir") continue;
      const names = await readdir(this.path(org)).catch(() => [] as string[]);
      for (const name of names.filter(isBoxName).sort()) {
        const kn = await kind(org, name);
        if (kn === "link") onSymlink?.(`${org}/${name}`);
        if (kn === "dir") out.push({ org, name });
      }
    }
    return out;
  }

  /** Every box in the store (org/name with a readable catalog), sorted. */
  async listBoxes(): Promise<BoxRef[]> {
    const out: BoxRef[] = [];
    for (const ref of await this.listBoxDirs()) {
      if (await this.readCatalog(ref).catch(() => undefined)) out.push(ref);
    }
    return out;
  }

  /** Runs `fn` holding the box's lock (created with the box directory when `create`). */
  async withBoxLock<T>(box: BoxRef, create: boolean, fn: () => Promise<T>): Promise<T> {
    checkRef(box);
    if (create) await this.mkdirs([box.org, box.name]);
    return withLock(this.path(box.org, box.name, LOCK), fn);
  }

  /**
   * Streams a box into the store while hashing and inspecting it (one read), then, under the
   * box's lock, moves it into place under a name of its own (its checksum) and switches the
   * catalog to it (temp + fsync + rename). The file it replaces is removed only after the
   * catalog no longer names it; a reader that opened it keeps reading it (an open file outlives
   * its name). On any failure or abort, the temporary file is removed and the catalog is untouched.
   */
  async publish(source: Readable, req: PublishRequest): Promise<PublishResult> {
    checkRef(req.box);
    if (!isVersion(req.version)) throw new InputError(`invalid version ${JSON.stringify(req.version)}`);
    if (req.provider !== undefined) parseProvider(req.provider, `${req.label}: provider`);
    if (req.architecture !== undefined && !isArchitecture(req.architecture)) throw new InputError(`${req.label}: invalid architecture ${JSON.stringify(req.architecture)}`);
    if (req.total !== undefined && req.maxBytes !== undefined && req.total > req.maxBytes) throw tooLarge(req.label, req.maxBytes);
    if (req.total !== undefined) await this.assertFreeSpace(req.total);
    if (req.provider !== undefined && req.architecture !== undefined && !req.force) {
      // Fail before copying gigabytes when the answer is already known.
      await this.assertFree(req.box, req.version, req.provider, req.architecture);
    }
    await this.sweepIncoming();
    const part = newPartName();
    let tmp: string | undefined;
    // Which write a full disk stopped, for the log.
    let stage = "copying the upload";
    try {
      await this.mkdirs([INCOMING]);
      tmp = this.path(INCOMING, part);
      const { checksum, size, provider, architecture } = await this.ingest(source, tmp, req);
      const from = tmp;
      stage = "taking the box's lock";
      return await this.withBoxLock(req.box, true, async () => {
        const catalog = (await this.readCatalog(req.box)) ?? emptyCatalog(formatBoxRef(req.box));
        const previous = findProvider(catalog, req.version, provider, architecture);
        if (previous && !req.force) throw this.conflict(req.box, req.version, provider, architecture);
        await req.beforeCommit?.({ checksum, size, provider, architecture, catalog: catalog.versions.length > 0 || catalog.created_at ? catalog : undefined });
        const rel = boxFile(req.version, provider, architecture, checksum);
        const oldFile = previous && entryFile(req.version, previous);
        stage = "placing the box file";
        await this.mkdirs([req.box.org, req.box.name, req.version]);
        const dest = this.path(req.box.org, req.box.name, rel);
        await rename(from, dest);
        await syncDir(this.path(req.box.org, req.box.name, req.version));
        const now = new Date().toISOString();
        const existing = catalog.versions.some((v) => v.version === req.version);
        const base: Catalog = existing || req.status === undefined ? catalog : { ...catalog, versions: [...catalog.versions, { version: req.version, providers: [], status: req.status, created_at: now }] };
        const next = touchVersion(upsertProvider(base, req.version, { name: provider, url: rel, checksum_type: "sha256", checksum, architecture, size }, req.defaultArchitecture), req.version, now);
        stage = "writing the catalog";
        try {
          await this.writeCatalog(req.box, next);
        } catch (err) {
          // The catalog still names the old file (or nothing): the new one is not published.
          if (oldFile !== rel) await unlink(dest).catch(() => {});
          await rmdir(this.path(req.box.org, req.box.name, req.version)).catch(() => {}); // only if that left it empty
          throw err;
        }
        if (oldFile !== undefined && oldFile !== rel) await unlink(this.path(req.box.org, req.box.name, oldFile)).catch(ignoreMissing);
        return {
          box: formatBoxRef(req.box),
          version: req.version,
          provider,
          architecture,
          checksum,
          size,
          replaced: previous !== undefined,
          defaultArchitecture: findProvider(next, req.version, provider, architecture)?.default_architecture ?? false,
          status: next.versions.find((v) => v.version === req.version)?.status ?? "active",
        };
      });
    } catch (err) {
      throw asStoreError(err, `${req.label} (${stage})`);
    } finally {
      if (tmp !== undefined) await unlink(tmp).catch(() => {}); // gone after a successful rename; a leftover otherwise
      releasePart(part);
    }
  }

  /**
   * Removes a version, or one provider (and architecture) of it: every file is resolved (and
   * checked to stay in the root) first, then the catalog is rewritten, then the files go.
   */
  async remove(sel: BoxSelector): Promise<CatalogProvider[]> {
    checkRef(sel);
    const what = `${formatBoxRef(sel)}@${sel.version}${sel.provider ? `/${sel.provider}` : ""}${sel.architecture ? `/${sel.architecture}` : ""}`;
    const notFound = (): NotFoundError => new NotFoundError(`${what}: not in the registry`);
    const boxDir = this.path(sel.org, sel.name);
    if (!(await lstat(boxDir).then((s) => s.isDirectory(), () => false))) throw notFound();
    return this.withBoxLock(sel, false, async () => {
      const catalog = await this.readCatalog(sel);
      const { catalog: next, removed } = catalog ? removeProviders(catalog, sel.version, sel.provider, sel.architecture) : { catalog, removed: [] };
      // A version with no box file yet (created through Vagrant's API) can still be deleted.
      const emptyVersion = sel.provider === undefined && catalog?.versions.some((v) => v.version === sel.version && v.providers.length === 0);
      if (!next || (removed.length === 0 && !emptyVersion)) throw notFound();
      const files = removed.map((p) => entryFile(sel.version, p)).filter((f): f is string => f !== undefined);
      const paths = files.map((f) => this.path(sel.org, sel.name, f));
      const versionDir = this.path(sel.org, sel.name, sel.version);
      // The catalog never points at a missing file: rewrite it before deleting anything.
      await this.writeCatalog(sel, next);
      for (const p of paths) await unlink(p).catch(ignoreMissing);
      await rmdir(versionDir).catch(() => {}); // only when empty: a file of someone else's stays
      return removed;
    }).catch((err: unknown) => {
      throw asStoreError(err, what);
    });
  }

  async saveBox(box: BoxRef, fields: BoxFields, mode: "create" | "update" | "upsert"): Promise<Catalog> {
    checkRef(box);
    return this.withBoxLock(box, mode !== "update" || (await this.boxDirExists(box)), async () => {
      const current = await this.readCatalog(box);
      if (current && mode === "create") throw new ConflictError(`${formatBoxRef(box)} already exists`);
      if (!current && mode === "update") throw new NotFoundError(`${formatBoxRef(box)}: not in the registry`);
      const now = new Date().toISOString();
      const next: Catalog = {
        ...(current ?? emptyCatalog(formatBoxRef(box))),
        ...(fields.description === undefined ? {} : { description: fields.description }),
        ...(fields.short_description === undefined ? {} : { short_description: fields.short_description }),
        created_at: current?.created_at ?? now,
        updated_at: now,
      };
      await this.writeCatalog(box, next);
      return next;
    }).catch((err: unknown) => {
      throw asStoreError(err, formatBoxRef(box));
    });
  }

  /** Removes every version (catalog first, then the files), then the catalog itself; the box directory stays if something else is in it. */
  async removeBox(box: BoxRef): Promise<void> {
    checkRef(box);
    const notFound = (): NotFoundError => new NotFoundError(`${formatBoxRef(box)}: not in the registry`);
    if (!(await this.boxDirExists(box))) throw notFound();
    await this.withBoxLock(box, false, async () => {
      const catalog = await this.readCatalog(box);
      if (!catalog) throw notFound();
      const files = catalog.versions.flatMap((v) => v.providers.map((p) => [v.version, entryFile(v.version, p)] as const));
      const paths = files.filter((f): f is readonly [string, string] => f[1] !== undefined).map(([v, f]) => [v, this.path(box.org, box.name, f)] as const);
      await unlink(this.path(box.org, box.name, CATALOG)).catch(ignoreMissing);
      await syncDir(this.path(box.org, box.name));
      for (const [version, p] of paths) {
        await unlink(p).catch(ignoreMissing);
        await rmdir(this.path(box.org, box.name, version)).catch(() => {}); // only when empty
      }
    }).catch((err: unknown) => {
      throw asStoreError(err, formatBoxRef(box));
    });
  }

  async saveVersion(box: BoxRef, version: string, change: VersionChange, mode: "create" | "update"): Promise<CatalogVersion> {
    checkRef(box);
    if (!isVersion(version)) throw new InputError(`invalid version ${JSON.stringify(version)}`);
    const what = `${formatBoxRef(box)}@${version}`;
    if (!(await this.boxDirExists(box))) throw new NotFoundError(`${formatBoxRef(box)}: not in the registry`);
    return this.withBoxLock(box, false, async () => {
      const catalog = await this.readCatalog(box);
      if (!catalog) throw new NotFoundError(`${formatBoxRef(box)}: not in the registry`);
      const current = catalog.versions.find((v) => v.version === version);
      if (current && mode === "create") throw new ConflictError(`${what} already exists`);
      if (!current && mode === "update") throw new NotFoundError(`${what}: not in the registry`);
      const now = new Date().toISOString();
      const next = applyVersionChange(current ?? { version, providers: [], status: "unreleased", created_at: now }, change, now);
      await this.writeCatalog(box, sortCatalog({ ...catalog, versions: [...catalog.versions.filter((v) => v !== current), next] }));
      return next;
    }).catch((err: unknown) => {
      throw asStoreError(err, what);
    });
  }

  async openDownload(box: BoxRef, version: string, provider: string, architecture: Architecture): Promise<LocalDownload | undefined> {
    const found = await this.openBox(box, version, provider, architecture);
    if (!found) return undefined;
    const { fh, size, entry, version: v } = found;
    return {
      kind: "local",
      entry,
      version: v,
      size,
      // The file is the entry's own (named by its checksum): the ETag names these very bytes.
      etag: `"${entry.checksum}"`,
      open: (start, end) => fh.createReadStream({ start, end, highWaterMark: 4 << 20, autoClose: false }),
      fh,
      close: () => fh.close(),
    };
  }

  private async boxDirExists(box: BoxRef): Promise<boolean> {
    return lstat(this.path(box.org, box.name)).then((s) => s.isDirectory(), () => false);
  }

  /**
   * Opens a published box for reading, or undefined when the catalog does not list it. The file
   * is the catalog entry's own (named by its checksum), so the bytes always match the entry; if
   * a force-replace removed it between reading the catalog and opening it, the catalog is read again.
   */
  async openBox(box: BoxRef, version: string, provider: string, architecture: string): Promise<{ fh: FileHandle; size: number; entry: CatalogProvider; version: CatalogVersion } | undefined> {
    for (let attempt = 0; ; attempt++) {
      const catalog = await this.readCatalog(box);
      const v = catalog?.versions.find((x) => x.version === version);
      const entry = catalog && findProvider(catalog, version, provider, architecture);
      const rel = entry && entryFile(version, entry);
      if (!entry || rel === undefined) return undefined;
      try {
        const fh = await this.openInside(this.path(box.org, box.name, rel));
        const st = await fh.stat();
        if (!st.isFile()) {
          await fh.close();
          return undefined;
        }
        return { fh, size: st.size, entry, version: v! };
      } catch (err) {
        if (!isMissing(err)) throw err;
        if (attempt >= 3) return undefined;
      }
    }
  }

  /** Removes upload files whose writer is gone (killed mid-copy); returns their names. */
  async sweepIncoming(): Promise<string[]> {
    let files: string[];
    try {
      files = await readdir(this.path(INCOMING));
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const f of files) {
      if (!isStalePart(f)) continue;
      await unlink(this.path(INCOMING, f)).then(() => removed.push(f), () => {});
    }
    return removed;
  }

  /** Refuses (NoSpaceError) when the root's filesystem has less than `bytes` plus a margin free. */
  async assertFreeSpace(bytes: number): Promise<void> {
    const free = await this.freeBytes();
    if (free !== undefined && bytes + FREE_SPACE_MARGIN > free) {
      throw new NoSpaceError(`not enough free space in the registry: ${bytes} bytes to store, ${free} free`);
    }
  }

  async freeBytes(): Promise<number | undefined> {
    try {
      const st = await statfs(this.realRoot);
      return st.bavail * st.bsize;
    } catch {
      return undefined;
    }
  }

  private async ingest(source: Readable, tmp: string, req: PublishRequest): Promise<Ingested> {
    const ingest = new BoxIngest(req);
    try {
      await pipeline(source, ingest.stream, createWriteStream(tmp, { flags: "wx", mode: 0o644, highWaterMark: 4 * CHUNK }), req.signal ? { signal: req.signal } : {});
    } catch (err) {
      ingest.destroy();
      if (err instanceof HomelabError) throw err;
      if ((err as Error).name === "AbortError") throw new JobError(`${req.label}: publish aborted`, { cause: err });
      if (isMissing(err)) throw new InputError(`${req.label}: no such file`);
      throw asStoreError(err, `${req.label} (copying the upload)`);
    }
    const result = await ingest.finish();
    const fh = await open(tmp, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return result;
  }

  private async assertFree(box: BoxRef, version: string, provider: string, architecture: string): Promise<void> {
    const catalog = await this.readCatalog(box);
    if (catalog && findProvider(catalog, version, provider, architecture)) throw this.conflict(box, version, provider, architecture);
  }

  private conflict(box: BoxRef, version: string, provider: string, architecture: string): ConflictError {
    return new ConflictError(`${formatBoxRef(box)}@${version}/${provider}/${architecture} is already published`);
  }

  /**
   * Creates `<root>/a/b/...` one level at a time, refusing any level that exists as something
   * other than a real directory: `mkdir -p` would follow a planted symlink and create
   * directories outside the root.
   */
  private async mkdirs(parts: readonly string[]): Promise<string> {
    let dir = this.realRoot;
    for (let i = 1; i <= parts.length; i++) {
      dir = this.path(...parts.slice(0, i));
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

  /** Opens a file (already checked by `path()`) read-only, refusing a symlink as its last component. */
  private async openInside(file: string): Promise<FileHandle> {
    return open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ELOOP") throw new OutsideRootError(`${file}: is a symlink; refusing to follow it`);
      throw err;
    });
  }
}

/** A version's metadata after a change; `updated_at` is now. */
export function applyVersionChange(v: CatalogVersion, change: VersionChange, now: string): CatalogVersion {
  const next: CatalogVersion = { ...v, updated_at: now };
  if (change.status !== undefined) next.status = change.status;
  if (change.description !== undefined) next.description = change.description;
  if (change.revoked_reason === null) delete next.revoked_reason;
  else if (change.revoked_reason !== undefined) next.revoked_reason = change.revoked_reason;
  let pending = v.pending_providers ?? [];
  const drop = change.dropPending;
  if (drop) pending = pending.filter((p) => !(p.name === drop.name && (drop.architecture === undefined || p.architecture === drop.architecture)));
  const add = change.addPending;
  if (add) pending = [...pending.filter((p) => !(p.name === add.name && p.architecture === add.architecture)), add];
  if (pending.length > 0) next.pending_providers = pending;
  else delete next.pending_providers;
  return next;
}

/** Marks a version as changed now (only when it keeps timestamps: one created through Vagrant's API). */
function touchVersion(catalog: Catalog, version: string, now: string): Catalog {
  return { ...catalog, versions: catalog.versions.map((v) => (v.version === version && v.created_at !== undefined ? { ...v, updated_at: now } : v)) };
}

function checkRef(box: BoxRef): void {
  if (!isOrg(box.org) || !isBoxName(box.name)) throw new InputError(`invalid box name ${JSON.stringify(formatBoxRef(box))}`);
}

/** A full disk is named as such; any other filesystem failure says what failed, without a stack. */
function asStoreError(err: unknown, label: string): unknown {
  if (err instanceof HomelabError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return new NoSpaceError(`${label}: the registry's disk is full (${code})`, { cause: err });
  if (typeof code === "string") return new JobError(`${label}: ${(err as Error).message}`, { cause: err });
  return err;
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

function ignoreMissing(err: unknown): void {
  if (!isMissing(err)) throw err;
}
