import { randomBytes } from "node:crypto";
import { isArchitecture, isBoxName, isOrg, isProvider, isVersion, type Architecture, type BoxRef } from "./names.js";

/**
 * Object keys in an S3 registry, under the store's prefix P (empty, or ending in '/'):
 *
 *     P/boxes/<org>/<name>/versions/<version>/providers/<provider>/<arch>.json   a provider record
 *     P/boxes/<org>/<name>/blobs/<version>/<upload id>.box                       its box file
 *     P/boxes/<org>/<name>/versions/<version>/version.json                       a version's release state (optional)
 *     P/boxes/<org>/<name>/box.json                                              a box's description (optional)
 *
 * A provider record is written once, with `If-None-Match: *`, and never read-modify-written: a
 * box's catalog is what a LIST of its records says, so two servers publishing different
 * versions (or providers) at once both land, and the same version+provider+architecture twice
 * has exactly one winner. A box file's key is new for every upload (a random id), so nothing a
 * reader resolved is ever overwritten, and a losing upload removes only its own file. The
 * version and box records (Vagrant's API: release, revoke, descriptions) are small and change:
 * each is created with `If-None-Match: *` and changed by compare-and-swap on its ETag, one per
 * version, so changes to different versions never meet.
 *
 * Every key is built from names that passed names.ts; a key in the bucket that does not match
 * these patterns is not ours and is never read as a record, overwritten or removed.
 */
export const RECORD_FORMAT = "homelab-box-provider/1";

const SEG = "[^/]+";
const RECORD_KEY = new RegExp(`^boxes/(${SEG})/(${SEG})/versions/(${SEG})/providers/(${SEG})/(${SEG})\\.json$`);
const BLOB_NAME = /^blobs\/([^/]+)\/([0-9a-f]{32})\.box$/;

/** A normalised prefix: "" or "a/b/" (no leading slash, no empty or dot segments). */
export function normalizePrefix(prefix: string): string | undefined {
  const parts = prefix.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === "." || p === ".." || /[\u0000-\u001f\\]/.test(p))) return undefined;
  return parts.length === 0 ? "" : `${parts.join("/")}/`;
}

export class S3Layout {
  constructor(readonly prefix: string) {}

  /** Where every box lives: LIST this to find the boxes. */
  boxesPrefix(): string {
    return `${this.prefix}boxes/`;
  }

  /** Everything of one box (records and files): LIST this to derive its catalog. */
  boxPrefix(box: BoxRef): string {
    return `${this.prefix}boxes/${box.org}/${box.name}/`;
  }

  versionPrefix(box: BoxRef, version: string): string {
    return `${this.boxPrefix(box)}versions/${version}/`;
  }

  boxRecordKey(box: BoxRef): string {
    return `${this.boxPrefix(box)}box.json`;
  }

  versionRecordKey(box: BoxRef, version: string): string {
    return `${this.boxPrefix(box)}versions/${version}/version.json`;
  }

  recordKey(box: BoxRef, version: string, provider: string, architecture: string): string {
    return `${this.boxPrefix(box)}versions/${version}/providers/${provider}/${architecture}.json`;
  }

  /** A fresh key for an upload's box file; the id makes it unique to this upload. */
  newBlobKey(box: BoxRef, version: string): string {
    return `${this.boxPrefix(box)}blobs/${version}/${randomBytes(16).toString("hex")}.box`;
  }

  /** The box file key of a blob named relative to its box (as records store it), or undefined when it is not one we write. */
  blobKey(box: BoxRef, rel: string, version: string): string | undefined {
    const m = BLOB_NAME.exec(rel);
    if (!m || m[1] !== version) return undefined;
    return `${this.boxPrefix(box)}${rel}`;
  }

  /** A blob key relative to its box prefix (what a record stores). */
  relative(box: BoxRef, key: string): string {
    return key.slice(this.boxPrefix(box).length);
  }

  /** What a listed key is, when it is a provider record of ours. */
  parseRecordKey(key: string): { box: BoxRef; version: string; provider: string; architecture: Architecture } | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const m = RECORD_KEY.exec(key.slice(this.prefix.length));
    if (!m) return undefined;
    const [, org, name, version, provider, architecture] = m as unknown as [string, string, string, string, string, string];
    if (!isOrg(org) || !isBoxName(name) || !isVersion(version) || !isProvider(provider) || !isArchitecture(architecture)) return undefined;
    return { box: { org, name }, version, provider, architecture };
  }

  /** What a listed key is, when it is a record of ours of any kind (provider, version, box). */
  parseAnyKey(key: string): ({ kind: "provider" } & NonNullable<ReturnType<S3Layout["parseRecordKey"]>>) | { kind: "version"; box: BoxRef; version: string } | { kind: "box"; box: BoxRef } | undefined {
    const provider = this.parseRecordKey(key);
    if (provider) return { kind: "provider", ...provider };
    if (!key.startsWith(this.prefix)) return undefined;
    const rest = key.slice(this.prefix.length);
    const v = /^boxes\/([^/]+)\/([^/]+)\/versions\/([^/]+)\/version\.json$/.exec(rest);
    if (v && isOrg(v[1]!) && isBoxName(v[2]!) && isVersion(v[3]!)) return { kind: "version", box: { org: v[1]!, name: v[2]! }, version: v[3]! };
    const b = /^boxes\/([^/]+)\/([^/]+)\/box\.json$/.exec(rest);
    if (b && isOrg(b[1]!) && isBoxName(b[2]!)) return { kind: "box", box: { org: b[1]!, name: b[2]! } };
    return undefined;
  }

  /** Whether a listed key is a box file of ours (only those are ever removed). */
  isBlobKey(key: string): boolean {
    const m = /^boxes\/([^/]+)\/([^/]+)\/(blobs\/.+)$/.exec(key.startsWith(this.prefix) ? key.slice(this.prefix.length) : "");
    const blob = m === null ? null : BLOB_NAME.exec(m[3]!);
    // The version too: `blobs/not-a-version/<id>.box` is not a name we write, so it is not ours.
    return m !== null && blob !== null && isOrg(m[1]!) && isBoxName(m[2]!) && isVersion(blob[1]!);
  }
}

/** A provider record as stored (JSON). `default_architecture`: what the publisher asked for, if anything. */
export interface ProviderRecord {
  readonly format: typeof RECORD_FORMAT;
  readonly name: string;
  readonly architecture: Architecture;
  readonly checksum_type: "sha256";
  readonly checksum: string;
  readonly size: number;
  /** The box file, relative to the box prefix. */
  readonly blob: string;
  readonly default_architecture?: boolean;
  /** ISO time; orders records when the default architecture is derived. */
  readonly published_at: string;
}

/** Parses a record read from `key`; undefined when it is not one of ours or does not agree with its key. */
export function parseRecord(text: string, expect: { version: string; provider: string; architecture: string }): ProviderRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (r.format !== RECORD_FORMAT || r.name !== expect.provider || r.architecture !== expect.architecture) return undefined;
  if (r.checksum_type !== "sha256" || typeof r.checksum !== "string" || !/^[0-9a-f]{64}$/.test(r.checksum)) return undefined;
  if (typeof r.size !== "number" || !Number.isSafeInteger(r.size) || r.size < 0) return undefined;
  if (typeof r.blob !== "string" || BLOB_NAME.exec(r.blob)?.[1] !== expect.version) return undefined;
  if (typeof r.published_at !== "string") return undefined;
  if (r.default_architecture !== undefined && typeof r.default_architecture !== "boolean") return undefined;
  return {
    format: RECORD_FORMAT,
    name: r.name,
    architecture: r.architecture as Architecture,
    checksum_type: "sha256",
    checksum: r.checksum,
    size: r.size,
    blob: r.blob,
    ...(r.default_architecture === undefined ? {} : { default_architecture: r.default_architecture }),
    published_at: r.published_at,
  };
}
