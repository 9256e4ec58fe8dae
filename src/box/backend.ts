import type { Readable } from "node:stream";
import type { Catalog, CatalogProvider } from "./catalog.js";
import type { Architecture, BoxRef, BoxSelector } from "./names.js";
import type { PublishRequest, PublishResult } from "./store.js";

/**
 * What `box serve` needs from wherever boxes are kept: the directory store (store.ts) is one
 * implementation, an S3 bucket (s3-store.ts) another. The server speaks only to this.
 *
 * Errors are the store's typed ones (store.ts): NotFoundError, ConflictError, NoSpaceError,
 * UploadTooLargeError, CorruptCatalogError, OutsideRootError, InputError. The server turns
 * each into a status; anything else is a 500.
 */
export interface BoxBackend {
  /** Names the store in log lines (a directory, a bucket). */
  readonly label: string;
  /** Every box with a readable catalog, sorted by org then name. */
  listBoxes(): Promise<BoxRef[]>;
  /** The box's catalog with `url` relative (the server makes it absolute); undefined when there is no such box. */
  readCatalog(box: BoxRef): Promise<Catalog | undefined>;
  /** Streams one box file in, checks it, and adds it to the catalog. */
  publish(source: Readable, req: PublishRequest): Promise<PublishResult>;
  /** Removes a version, or one provider (and architecture) of it, with its files. NotFoundError when nothing matches. */
  remove(sel: BoxSelector): Promise<CatalogProvider[]>;
  /** How to send a published box file, or undefined when the catalog does not list it. */
  openDownload(box: BoxRef, version: string, provider: string, architecture: Architecture): Promise<BoxDownload | undefined>;
  /** Refuses (NoSpaceError) an upload of this size when the store knows it cannot hold it; may do nothing. */
  assertFreeSpace(bytes: number): Promise<void>;
}

/**
 * A published box file ready to send: either bytes this process reads (a file, an object
 * stream) with what range requests and caching need, or a URL to redirect the client to.
 */
export type BoxDownload = LocalDownload | RedirectDownload;

export interface LocalDownload {
  readonly kind: "local";
  readonly entry: CatalogProvider;
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
  readonly url: string;
}
