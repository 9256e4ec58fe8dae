import type { Readable } from "node:stream";
import type { Catalog, CatalogProvider, CatalogVersion, PendingProvider, VersionStatus } from "./catalog.js";
import type { Architecture, BoxRef, BoxSelector } from "./names.js";
import type { PublishRequest, PublishResult } from "./store.js";

/**
 * What `box serve` needs from wherever boxes are kept: the directory store (store.ts) is one
 * implementation, an object store another. The server and Vagrant's API speak only to this.
 *
 * Errors are the store's typed ones (store.ts): NotFoundError, ConflictError, NoSpaceError,
 * UploadTooLargeError, CorruptCatalogError, OutsideRootError, InputError. The server turns
 * each into a status; anything else is a 500.
 */
export interface BoxBackend {
  /** Names the store in log lines (a directory, a bucket). */
  readonly label: string;

  /** Every box with a readable record, sorted by org then name. */
  listBoxes(): Promise<BoxRef[]>;
  /**
   * The box's full record: every version in every release state, pending providers, and `url`
   * relative (the server makes it absolute). Undefined when there is no such box.
   */
  readCatalog(box: BoxRef): Promise<Catalog | undefined>;

  /**
   * Streams one box file in, checks it, and adds it to the version (created, with
   * `req.status` or active, when it does not exist). See store.ts's BoxStore.publish.
   */
  publish(source: Readable, req: PublishRequest): Promise<PublishResult>;
  /** Removes a version, or one provider (and architecture) of it, with its files. NotFoundError when nothing matches. */
  remove(sel: BoxSelector): Promise<CatalogProvider[]>;

  /** Creates or updates a box's own fields. `mode` "create" fails (ConflictError) if it exists; "update" fails (NotFoundError) if not. */
  saveBox(box: BoxRef, fields: BoxFields, mode: "create" | "update" | "upsert"): Promise<Catalog>;
  /** Removes a box: every version, every file, its record. NotFoundError when there is none. */
  removeBox(box: BoxRef): Promise<void>;
  /**
   * Creates a version (mode "create": ConflictError if it exists, NotFoundError if the box does
   * not) or changes one (mode "update": NotFoundError if missing). Applied under the box's lock
   * (or a conditional write), so two changes to one box never lose each other.
   */
  saveVersion(box: BoxRef, version: string, change: VersionChange, mode: "create" | "update"): Promise<CatalogVersion>;

  /** How to send a published box file, or undefined when the record does not list it. */
  openDownload(box: BoxRef, version: string, provider: string, architecture: Architecture): Promise<BoxDownload | undefined>;

  /** Refuses (NoSpaceError) an upload of this size when the store knows it cannot hold it; may do nothing. */
  assertFreeSpace(bytes: number): Promise<void>;
}

/** A box's own fields, as Vagrant's API sets them. Undefined leaves a field as it is. */
export interface BoxFields {
  readonly description?: string;
  readonly short_description?: string;
}

/** A change to a version's metadata. Undefined leaves a field as it is. */
export interface VersionChange {
  readonly status?: VersionStatus;
  readonly description?: string;
  /** null clears it (a version released again after a revoke). */
  readonly revoked_reason?: string | null;
  /** Announces a provider's coming upload (replacing an announcement of the same name and architecture). */
  readonly addPending?: PendingProvider;
  /** Withdraws an announcement (provider delete before its upload). */
  readonly dropPending?: { readonly name: string; readonly architecture?: Architecture };
}

/**
 * A published box file ready to send: either bytes this process reads (a file, an object
 * stream) with what range requests and caching need, or a URL to redirect the client to.
 */
export type BoxDownload = LocalDownload | RedirectDownload;

export interface LocalDownload {
  readonly kind: "local";
  readonly entry: CatalogProvider;
  readonly version: CatalogVersion;
  readonly size: number;
  /** A strong ETag naming these very bytes (quoted). */
  readonly etag: string;
  /** Bytes start..end inclusive; may be called more than once. */
  open(start: number, end: number): Readable;
  /** Releases what openDownload took (a file handle); called once, after the last `open` stream ended. */
  close(): Promise<void>;
}

export interface RedirectDownload {
  readonly kind: "redirect";
  readonly entry: CatalogProvider;
  readonly version: CatalogVersion;
  readonly url: string;
}
