import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { HomelabError, InputError, JobError } from "../errors.js";
import type { BoxBackend, BoxDownload, BoxFields, VersionChange } from "./backend.js";
import { findProvider, parseCatalog, removeProviders, sortCatalog, type Catalog, type CatalogProvider, type CatalogVersion } from "./catalog.js";
import { BoxIngest, tooLarge } from "./ingest.js";
import { formatBoxRef, isArchitecture, isBoxName, isOrg, isVersion, parseProvider, type Architecture, type BoxRef, type BoxSelector } from "./names.js";
import { parseRecord, RECORD_FORMAT, S3Layout, type ProviderRecord } from "./s3-layout.js";
import { applyVersionChange, ConflictError, NotFoundError, type PublishRequest, type PublishResult } from "./store.js";

export interface S3StoreOptions {
  readonly bucket: string;
  /** Keys go under this prefix ("" or "a/b/"; see s3-layout.ts). */
  readonly prefix: string;
  /** http(s)://host:port of an S3-compatible server; AWS's own endpoint when omitted. */
  readonly endpoint?: string;
  readonly region: string;
  /** Else the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * "stream": the server reads the object and sends it (Range, ETag as from a directory);
   * "redirect": the server answers 302 to a presigned GET URL, and the client fetches from S3.
   */
  readonly downloads?: "stream" | "redirect";
  /** The endpoint written into presigned URLs, when clients reach S3 by another address than the server does. */
  readonly publicEndpoint?: string;
  /** How long a presigned URL is valid (default 3600 s; checked by S3 when the download starts). */
  readonly presignSeconds?: number;
  /** Multipart part size (default 16 MiB) and parts in flight per upload (default 4). */
  readonly partSize?: number;
  readonly queueSize?: number;
}

/** An unfinished multipart upload of ours with no part written for this long was left by a killed server. */
export const ABANDONED_UPLOAD_MS = 24 * 60 * 60_000;
/** Records read at once when a catalog is derived. */
const READ_PARALLEL = 16;
/** A compare-and-swap that keeps losing is given up after this many tries. */
const CAS_TRIES = 8;

/**
 * The box registry in an S3 bucket: several `box serve` processes can share one bucket with no
 * local state. Layout and why it stays consistent: s3-layout.ts. It needs a server that honours
 * `If-None-Match: *` on PUT (AWS S3 since 2024, Ceph radosgw); without it (Swift's s3api
 * answers 501), publishing fails rather than losing a version.
 */
export class S3BoxStore implements BoxBackend {
  readonly label: string;
  private readonly layout: S3Layout;

  private constructor(
    private readonly client: S3Client,
    /** Signs presigned URLs for clients (another endpoint than the server's, when configured). */
    private readonly presigner: S3Client,
    private readonly opts: S3StoreOptions,
  ) {
    this.layout = new S3Layout(opts.prefix);
    this.label = `s3://${opts.bucket}/${opts.prefix}`;
  }

  static async open(opts: S3StoreOptions): Promise<S3BoxStore> {
    const make = (endpoint: string | undefined): S3Client =>
      new S3Client({
        region: opts.region,
        ...(endpoint === undefined ? {} : { endpoint }),
        ...(opts.credentials === undefined ? {} : { credentials: opts.credentials }),
        // Path style: virtual-hosted names (bucket.localhost) do not resolve on a private endpoint.
        forcePathStyle: true,
        // The SDK's default CRC32 sends streamed bodies aws-chunked, which radosgw answers 411.
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      });
    const client = make(opts.endpoint);
    const store = new S3BoxStore(client, opts.publicEndpoint === undefined ? client : make(opts.publicEndpoint), opts);
    try {
      await client.send(new HeadBucketCommand({ Bucket: opts.bucket }));
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404) throw new InputError(`${store.label}: no such bucket (create it first)`);
      if (status === 403 || status === 401) throw new InputError(`${store.label}: access denied (check the credentials)`);
      throw store.failure(err, "opening the bucket");
    }
    return store;
  }

  /** Stops the client's connections (sockets of the SDK's agent). */
  destroy(): void {
    this.client.destroy();
    if (this.presigner !== this.client) this.presigner.destroy();
  }

  async listBoxes(): Promise<BoxRef[]> {
    const seen = new Map<string, BoxRef>();
    for (const key of await this.listKeys(this.layout.boxesPrefix())) {
      const rec = this.layout.parseAnyKey(key);
      if (rec) seen.set(formatBoxRef(rec.box), rec.box);
    }
    return [...seen.values()].sort((a, b) => a.org.localeCompare(b.org) || a.name.localeCompare(b.name));
  }

  /** The catalog a LIST of the box's records gives; undefined when it has none. */
  async readCatalog(box: BoxRef): Promise<Catalog | undefined> {
    checkRef(box);
    const name = formatBoxRef(box);
    const keys = (await this.listKeys(this.layout.boxPrefix(box))).flatMap((key) => {
      const parsed = this.layout.parseAnyKey(key);
      return parsed && formatBoxRef(parsed.box) === name ? [{ key, parsed }] : [];
    });
    const providers: { version: string; rec: ProviderRecord }[] = [];
    const versions = new Map<string, CatalogVersion>();
    let boxMeta: Catalog | undefined;
    await mapBounded(keys, READ_PARALLEL, async ({ key, parsed }) => {
      const text = (await this.getJson(key))?.text;
      if (text === undefined) return;
      if (parsed.kind === "provider") {
        const rec = parseRecord(text, parsed);
        if (rec) providers.push({ version: parsed.version, rec });
      } else if (parsed.kind === "version") {
        const meta = parseVersionRecord(text, parsed.version);
        if (meta) versions.set(parsed.version, meta);
      } else boxMeta = parseBoxRecord(text, name);
    });
    if (providers.length === 0 && versions.size === 0 && boxMeta === undefined) return undefined;
    return deriveCatalog(name, providers, versions, boxMeta);
  }

  async assertFreeSpace(): Promise<void> {
    // A bucket has no free space to ask about; a quota shows as a failed write.
  }

  /**
   * Streams a box into a new object of its own (multipart for large ones; aborted on any
   * failure, so no parts are left), checking it on the way as the directory store does, then
   * creates its provider record with `If-None-Match: *`: of two publishes of one
   * version+provider+architecture exactly one gets it, the other removes its own object and
   * fails with a ConflictError. `force` swaps the record by compare-and-swap on its ETag and
   * then removes the file it named.
   */
  async publish(source: Readable, req: PublishRequest): Promise<PublishResult> {
    checkRef(req.box);
    if (!isVersion(req.version)) throw new InputError(`invalid version ${JSON.stringify(req.version)}`);
    if (req.provider !== undefined) parseProvider(req.provider, `${req.label}: provider`);
    if (req.architecture !== undefined && !isArchitecture(req.architecture)) throw new InputError(`${req.label}: invalid architecture ${JSON.stringify(req.architecture)}`);
    if (req.total !== undefined && req.maxBytes !== undefined && req.total > req.maxBytes) throw tooLarge(req.label, req.maxBytes);
    if (req.provider !== undefined && req.architecture !== undefined && !req.force) {
      // Fail before copying gigabytes when the answer is already known.
      if (await this.exists(this.layout.recordKey(req.box, req.version, req.provider, req.architecture))) {
        throw conflict(req.box, req.version, req.provider, req.architecture);
      }
    }
    const blobKey = this.layout.newBlobKey(req.box, req.version);
    let stored = false;
    try {
      const ingested = await this.upload(source, blobKey, req);
      stored = true;
      const catalog = await this.readCatalog(req.box);
      if (!req.force && catalog && findProvider(catalog, req.version, ingested.provider, ingested.architecture)) {
        throw conflict(req.box, req.version, ingested.provider, ingested.architecture);
      }
      await req.beforeCommit?.({ ...ingested, catalog });
      // An upload that creates its version with a release state writes that state first, so the
      // version is never visible as active for a moment.
      let createdVersion = false;
      if (req.status !== undefined && !catalog?.versions.some((v) => v.version === req.version)) {
        const meta = versionRecordBody({ version: req.version, providers: [], status: req.status, created_at: new Date().toISOString() });
        createdVersion = await this.putJson(this.layout.versionRecordKey(req.box, req.version), meta, { IfNoneMatch: "*" }).then(
          () => true,
          (err: unknown) => {
            if (isPreconditionFailed(err)) return false; // another upload created it meanwhile
            throw err;
          },
        );
      }
      const record: ProviderRecord = {
        format: RECORD_FORMAT,
        name: ingested.provider,
        architecture: ingested.architecture,
        checksum_type: "sha256",
        checksum: ingested.checksum,
        size: ingested.size,
        blob: this.layout.relative(req.box, blobKey),
        ...(req.defaultArchitecture === undefined ? {} : { default_architecture: req.defaultArchitecture }),
        published_at: new Date().toISOString(),
      };
      const recordKey = this.layout.recordKey(req.box, req.version, record.name, record.architecture);
      const replaced = await this.putRecord(recordKey, record, req).catch(async (err: unknown) => {
        if (createdVersion) await this.deleteKey(this.layout.versionRecordKey(req.box, req.version)).catch(() => {});
        throw err;
      });
      stored = false; // the record names the object now: it stays
      if (replaced) await this.removeBlob(req.box, replaced.blob, req.version);
      const after = await this.readCatalog(req.box);
      const entry = after && findProvider(after, req.version, record.name, record.architecture);
      return {
        box: formatBoxRef(req.box),
        version: req.version,
        provider: record.name,
        architecture: record.architecture,
        checksum: record.checksum,
        size: record.size,
        replaced: replaced !== undefined,
        defaultArchitecture: entry?.default_architecture ?? false,
        // What the directory store answers too: `box publish --no-release` says "unreleased".
        status: after?.versions.find((v) => v.version === req.version)?.status ?? "active",
      };
    } catch (err) {
      if (stored) await this.deleteKey(blobKey).catch(() => {});
      if (err instanceof HomelabError) throw err;
      throw this.failure(err, req.label);
    }
  }

  /**
   * Removes the records first (the catalog stops naming the files), then the files they named.
   * A version's own record goes when the version does (as the directory store's catalog entry).
   */
  async remove(sel: BoxSelector): Promise<CatalogProvider[]> {
    checkRef(sel);
    const what = `${formatBoxRef(sel)}@${sel.version}${sel.provider ? `/${sel.provider}` : ""}${sel.architecture ? `/${sel.architecture}` : ""}`;
    const catalog = await this.readCatalog(sel);
    const { catalog: next, removed } = catalog ? removeProviders(catalog, sel.version, sel.provider, sel.architecture) : { catalog, removed: [] };
    // A version with no box file yet (created through Vagrant's API) can still be deleted.
    const emptyVersion = sel.provider === undefined && catalog?.versions.some((v) => v.version === sel.version && v.providers.length === 0);
    if (!next || (removed.length === 0 && !emptyVersion)) throw new NotFoundError(`${what}: not in the registry`);
    try {
      for (const p of removed) await this.deleteKey(this.layout.recordKey(sel, sel.version, p.name, p.architecture));
      if (!next.versions.some((v) => v.version === sel.version)) await this.deleteOurs(this.layout.versionRecordKey(sel, sel.version), (t) => parseVersionRecord(t, sel.version));
      for (const p of removed) await this.removeBlob(sel, p.url, sel.version);
    } catch (err) {
      throw this.failure(err, what);
    }
    return removed;
  }

  /** Creates (If-None-Match: *) or changes (compare-and-swap) the box's own record. */
  async saveBox(box: BoxRef, fields: BoxFields, mode: "create" | "update" | "upsert"): Promise<Catalog> {
    checkRef(box);
    const name = formatBoxRef(box);
    const catalog = await this.readCatalog(box);
    if (catalog && mode === "create") throw new ConflictError(`${name} already exists`);
    if (!catalog && mode === "update") throw new NotFoundError(`${name}: not in the registry`);
    const now = new Date().toISOString();
    await this.swapJson(this.layout.boxRecordKey(box), name, (t) => parseBoxRecord(t, name), (current) => {
      if (current && mode === "create") throw new ConflictError(`${name} already exists`);
      return {
        format: BOX_RECORD_FORMAT,
        description: fields.description ?? current?.description ?? catalog?.description ?? "",
        ...((fields.short_description ?? current?.short_description) === undefined ? {} : { short_description: fields.short_description ?? current?.short_description }),
        created_at: current?.created_at ?? now,
        updated_at: now,
      };
    });
    return (await this.readCatalog(box))!;
  }

  /** Removes every record of the box (provider, version, box), then its box files. */
  async removeBox(box: BoxRef): Promise<void> {
    checkRef(box);
    const name = formatBoxRef(box);
    const catalog = await this.readCatalog(box);
    if (!catalog) throw new NotFoundError(`${name}: not in the registry`);
    try {
      for (const v of catalog.versions) for (const p of v.providers) await this.deleteKey(this.layout.recordKey(box, v.version, p.name, p.architecture));
      for (const v of catalog.versions) await this.deleteOurs(this.layout.versionRecordKey(box, v.version), (t) => parseVersionRecord(t, v.version));
      await this.deleteOurs(this.layout.boxRecordKey(box), (t) => parseBoxRecord(t, name));
      for (const v of catalog.versions) for (const p of v.providers) await this.removeBlob(box, p.url, v.version);
    } catch (err) {
      throw this.failure(err, name);
    }
  }

  /**
   * Creates a version's record (If-None-Match: *: of two creates one wins, the other is a
   * ConflictError) or changes it by compare-and-swap; each version has a record of its own, so
   * changes to different versions never meet.
   */
  async saveVersion(box: BoxRef, version: string, change: VersionChange, mode: "create" | "update"): Promise<CatalogVersion> {
    checkRef(box);
    if (!isVersion(version)) throw new InputError(`invalid version ${JSON.stringify(version)}`);
    const what = `${formatBoxRef(box)}@${version}`;
    const catalog = await this.readCatalog(box);
    if (!catalog) throw new NotFoundError(`${formatBoxRef(box)}: not in the registry`);
    const listed = catalog.versions.find((v) => v.version === version);
    if (listed && mode === "create") throw new ConflictError(`${what} already exists`);
    if (!listed && mode === "update") throw new NotFoundError(`${what}: not in the registry`);
    const now = new Date().toISOString();
    await this.swapJson(this.layout.versionRecordKey(box, version), what, (t) => parseVersionRecord(t, version), (current) => {
      if (current && mode === "create") throw new ConflictError(`${what} already exists`);
      const base: CatalogVersion = current ?? (listed ? { ...listed, providers: [] } : { version, providers: [], status: "unreleased", created_at: now });
      return versionRecordBody(applyVersionChange(base, change, now));
    });
    const after = (await this.readCatalog(box))?.versions.find((v) => v.version === version);
    if (!after) throw new NotFoundError(`${what}: removed meanwhile`);
    return after;
  }

  async openDownload(box: BoxRef, version: string, provider: string, architecture: Architecture): Promise<BoxDownload | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const catalog = await this.readCatalog(box);
      const v = catalog?.versions.find((x) => x.version === version);
      const entry = v?.providers.find((p) => p.name === provider && p.architecture === architecture);
      const key = entry && this.layout.blobKey(box, entry.url, version);
      if (!v || !entry || key === undefined) return undefined;
      // A force-replace may have removed the object between the LIST and now: read the records again.
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: key })).catch((err: unknown) => {
        if (httpStatus(err) === 404) return undefined;
        throw this.failure(err, `${formatBoxRef(box)}@${version}/${provider}/${architecture}`);
      });
      if (!head) continue;
      if (this.opts.downloads === "redirect") {
        const url = await getSignedUrl(this.presigner, new GetObjectCommand({ Bucket: this.opts.bucket, Key: key }), { expiresIn: this.opts.presignSeconds ?? 3600 });
        return { kind: "redirect", entry, version: v, url };
      }
      const size = head.ContentLength ?? entry.size;
      return {
        kind: "local",
        entry,
        version: v,
        size,
        // The object is never rewritten (a new upload gets a new key): its checksum names these bytes.
        etag: `"${entry.checksum}"`,
        open: (start, end) => this.openRange(key, start, end),
        close: async () => {},
      };
    }
    return undefined;
  }

  /**
   * Aborts multipart uploads of ours (box file keys) that a killed server left: those with no
   * part written for `staleMs` (and started that long ago). Another server's upload in flight
   * writes a part every few seconds and is left alone; so is any upload to a key we do not write.
   */
  async sweepAbandonedUploads(staleMs: number): Promise<string[]> {
    const aborted: string[] = [];
    const now = Date.now();
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({ Bucket: this.opts.bucket, Prefix: this.layout.boxesPrefix(), ...(keyMarker ? { KeyMarker: keyMarker } : {}), ...(idMarker ? { UploadIdMarker: idMarker } : {}) }),
      );
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !this.layout.isBlobKey(u.Key)) continue;
        if (u.Initiated && now - u.Initiated.getTime() < staleMs) continue;
        const parts = await this.client.send(new ListPartsCommand({ Bucket: this.opts.bucket, Key: u.Key, UploadId: u.UploadId }));
        const last = Math.max(0, ...(parts.Parts ?? []).map((p) => p.LastModified?.getTime() ?? 0));
        if (now - last < staleMs) continue;
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key: u.Key, UploadId: u.UploadId }));
        aborted.push(u.Key);
      }
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
    return aborted;
  }

  /** The key layout under this store's prefix (for fsck: s3-fsck.ts). */
  get keys(): S3Layout {
    return this.layout;
  }

  /** Every object under the boxes prefix with its size and time (for fsck). */
  async listObjects(): Promise<{ key: string; size: number; lastModified: number }[]> {
    const out: { key: string; size: number; lastModified: number }[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: this.layout.boxesPrefix(), ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of page.Contents ?? []) if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.failure(err, `listing ${this.layout.boxesPrefix()}`);
    }
    return out;
  }

  /** Unfinished multipart uploads to box file keys of ours, with when they last wrote (for fsck). */
  async listBlobUploads(): Promise<{ key: string; uploadId: string; lastWrite: number }[]> {
    const out: { key: string; uploadId: string; lastWrite: number }[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    try {
      for (;;) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.opts.bucket, Prefix: this.layout.boxesPrefix(), ...(keyMarker ? { KeyMarker: keyMarker } : {}), ...(idMarker ? { UploadIdMarker: idMarker } : {}) }),
        );
        for (const u of page.Uploads ?? []) {
          if (!u.Key || !u.UploadId || !this.layout.isBlobKey(u.Key)) continue;
          const parts = await this.client.send(new ListPartsCommand({ Bucket: this.opts.bucket, Key: u.Key, UploadId: u.UploadId }));
          const lastWrite = Math.max(u.Initiated?.getTime() ?? 0, ...(parts.Parts ?? []).map((p) => p.LastModified?.getTime() ?? 0));
          out.push({ key: u.Key, uploadId: u.UploadId, lastWrite });
        }
        if (!page.IsTruncated) break;
        keyMarker = page.NextKeyMarker;
        idMarker = page.NextUploadIdMarker;
      }
    } catch (err) {
      throw this.failure(err, "listing unfinished uploads");
    }
    return out;
  }

  /** An object's text, or undefined when it is gone (for fsck). */
  async readText(key: string): Promise<string | undefined> {
    return (await this.getJson(key))?.text;
  }

  /** Whether an object exists (for fsck). */
  async hasObject(key: string): Promise<boolean> {
    return this.exists(key);
  }

  /**
   * Removes an object of ours (a box file, or a record whose text is `expected`, read again
   * here): anything else at that key is left alone and this answers false (for fsck --repair).
   */
  async removeOwn(key: string, expected?: string): Promise<boolean> {
    if (expected === undefined ? !this.layout.isBlobKey(key) : this.layout.parseAnyKey(key) === undefined) return false;
    if (expected !== undefined && (await this.readText(key)) !== expected) return false;
    await this.deleteKey(key);
    return true;
  }

  /** Aborts one unfinished upload to a box file key of ours (for fsck --repair). */
  async abortUpload(key: string, uploadId: string): Promise<boolean> {
    if (!this.layout.isBlobKey(key)) return false;
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key: key, UploadId: uploadId }));
    return true;
  }

  /** Copies the source into `key` through the ingest pass; a box that fails its checks is removed again. */
  private async upload(source: Readable, key: string, req: PublishRequest) {
    const ingest = new BoxIngest(req);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.opts.bucket, Key: key, Body: ingest.stream, ContentType: "application/octet-stream" },
      partSize: this.opts.partSize ?? 16 << 20,
      queueSize: this.opts.queueSize ?? 4,
      leavePartsOnError: false,
    });
    // A source that fails (too large, aborted, the client gone) errors the body: lib-storage
    // then stops, aborts the multipart upload, and only then rejects.
    const feeding = pipeline(source, ingest.stream, req.signal ? { signal: req.signal } : {});
    const [fed, sent] = await Promise.allSettled([feeding, upload.done()]);
    if (fed.status === "rejected" || sent.status === "rejected") {
      ingest.destroy();
      // lib-storage aborts its own multipart upload; asking again costs one request and makes sure.
      if (upload.uploadId) await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key: key, UploadId: upload.uploadId })).catch(() => {});
      if (sent.status === "fulfilled") await this.deleteKey(key).catch(() => {});
      const err: unknown = fed.status === "rejected" ? fed.reason : (sent as PromiseRejectedResult).reason;
      if (err instanceof HomelabError) throw err;
      if ((err as Error).name === "AbortError" || req.signal?.aborted) throw new JobError(`${req.label}: publish aborted`, { cause: err });
      throw this.failure(err, `${req.label} (copying the upload)`);
    }
    try {
      return await ingest.finish();
    } catch (err) {
      await this.deleteKey(key).catch(() => {});
      throw err;
    }
  }

  /**
   * Creates the record (If-None-Match: *). When it exists: a ConflictError, or with `force` a
   * compare-and-swap (If-Match on the ETag we read, unquoted as radosgw wants it), retried while
   * another writer wins. Returns the record it replaced.
   */
  private async putRecord(key: string, record: ProviderRecord, req: PublishRequest): Promise<ProviderRecord | undefined> {
    const body = `${JSON.stringify(record, null, 2)}\n`;
    const put = (cond: { IfNoneMatch: string } | { IfMatch: string }) =>
      this.client.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: key, Body: body, ContentType: "application/json", ...cond }));
    for (let attempt = 0; attempt < CAS_TRIES; attempt++) {
      try {
        await put({ IfNoneMatch: "*" });
        return undefined;
      } catch (err) {
        if (!isPreconditionFailed(err)) throw err;
      }
      if (!req.force) throw conflict(req.box, req.version, record.name, record.architecture);
      const current = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: key })).catch((err: unknown) => {
        if (httpStatus(err) === 404) return undefined; // removed meanwhile: create it again
        throw err;
      });
      if (!current) continue;
      const text = await current.Body!.transformToString("utf8");
      const previous = parseRecord(text, { version: req.version, provider: record.name, architecture: record.architecture });
      if (!previous) throw new ConflictError(`${this.label}: ${key} is not a record homelab wrote; refusing to replace it`);
      try {
        await put({ IfMatch: unquote(current.ETag ?? "") });
        return previous;
      } catch (err) {
        // radosgw answers a lost race with 412, and now and then with 500 "operation cancelled".
        if (!isPreconditionFailed(err) && httpStatus(err) !== 500) throw err;
      }
    }
    throw new JobError(`${req.label}: the record ${key} kept changing under concurrent publishes; try again`);
  }

  private async removeBlob(box: BoxRef, rel: string, version: string): Promise<void> {
    const key = this.layout.blobKey(box, rel, version);
    if (key !== undefined) await this.deleteKey(key);
  }

  private openRange(key: string, start: number, end: number): Readable {
    const out = new PassThrough({ highWaterMark: 4 << 20 });
    this.client
      .send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: key, Range: `bytes=${start}-${end}` }))
      .then((res) => pipeline(res.Body as Readable, out))
      .catch((err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))));
    return out;
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: key }));
      return true;
    } catch (err) {
      if (httpStatus(err) === 404) return false;
      throw this.failure(err, key);
    }
  }

  private async getJson(key: string): Promise<{ text: string; etag: string } | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: key }));
      return { text: await res.Body!.transformToString("utf8"), etag: res.ETag ?? "" };
    } catch (err) {
      if (httpStatus(err) === 404) return undefined; // removed between the LIST and the GET
      throw this.failure(err, key);
    }
  }

  private putJson(key: string, body: object, cond: { IfNoneMatch: string } | { IfMatch: string }): Promise<unknown> {
    return this.client.send(new PutObjectCommand({ Bucket: this.opts.bucket, Key: key, Body: `${JSON.stringify(body, null, 2)}\n`, ContentType: "application/json", ...cond }));
  }

  /**
   * Read-modify-write of one small record without losing a concurrent change: created with
   * If-None-Match: *, changed with If-Match on the ETag read (unquoted: radosgw refuses the
   * quoted form), and tried again from the read when another writer got there first.
   */
  private async swapJson<T>(key: string, what: string, parse: (text: string) => T | undefined, change: (current: T | undefined) => object): Promise<void> {
    for (let attempt = 0; attempt < CAS_TRIES; attempt++) {
      const got = await this.getJson(key);
      const current = got === undefined ? undefined : parse(got.text);
      if (got !== undefined && current === undefined) throw new ConflictError(`${this.label}: ${key} is not a record homelab wrote; refusing to replace it`);
      const next = change(current);
      try {
        await this.putJson(key, next, got === undefined ? { IfNoneMatch: "*" } : { IfMatch: unquote(got.etag) });
        return;
      } catch (err) {
        // radosgw answers a lost race with 412, and now and then with 500 "operation cancelled".
        if (!isPreconditionFailed(err) && httpStatus(err) !== 500) throw this.failure(err, what);
      }
    }
    throw new JobError(`${what}: ${key} kept changing under concurrent writers; try again`);
  }

  /** Deletes a record only when it is one of ours (a user's object at that key stays). */
  private async deleteOurs(key: string, parse: (text: string) => unknown): Promise<void> {
    const got = await this.getJson(key);
    if (got !== undefined && parse(got.text) !== undefined) await this.deleteKey(key);
  }

  private async deleteKey(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: key }));
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }));
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.failure(err, `listing ${prefix}`);
    }
    return keys;
  }

  /** An S3 or network failure as a one-line JobError naming the store and what failed. */
  private failure(err: unknown, what: string): unknown {
    if (err instanceof HomelabError) return err;
    const status = httpStatus(err);
    const e = err as { name?: string; code?: string; message?: string };
    const detail = status !== undefined ? `HTTP ${status} ${e.name ?? ""}`.trim() : (e.code ?? e.name ?? e.message ?? String(err));
    return new JobError(`${this.label}: ${what}: ${detail}`, { cause: err });
  }
}

const VERSION_RECORD_FORMAT = "homelab-box-version/1";
const BOX_RECORD_FORMAT = "homelab-box/1";

/** A version's own record: its metadata, never its providers (those are records of their own). */
function versionRecordBody(v: CatalogVersion): object {
  const { version: _v, providers: _p, ...meta } = v;
  return { format: VERSION_RECORD_FORMAT, ...meta };
}

/** A version record read back (checked by the catalog's own parser); undefined when it is not ours. */
export function parseVersionRecord(text: string, version: string): CatalogVersion | undefined {
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    if (raw?.format !== VERSION_RECORD_FORMAT) return undefined;
    const { format: _f, ...meta } = raw;
    return parseCatalog(JSON.stringify({ name: "-", versions: [{ ...meta, version, providers: [] }] }), "version.json").versions[0];
  } catch {
    return undefined;
  }
}

/** A box record read back; undefined when it is not ours. */
export function parseBoxRecord(text: string, name: string): Catalog | undefined {
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    if (raw?.format !== BOX_RECORD_FORMAT) return undefined;
    const { format: _f, ...meta } = raw;
    return parseCatalog(JSON.stringify({ description: "", ...meta, name, versions: [] }), "box.json");
  } catch {
    return undefined;
  }
}

/**
 * The catalog from a box's records. Which architecture of a provider is its default (the one
 * Vagrant < 2.4 picks) follows the directory store's rule with no shared state to update: the
 * newest record that asked to be the default, else the first one published. A provider
 * announced in a version's record stops being pending once its own record exists.
 */
export function deriveCatalog(name: string, found: readonly { version: string; rec: ProviderRecord }[], metas: ReadonlyMap<string, CatalogVersion> = new Map(), box?: Catalog): Catalog {
  const byVersion = new Map<string, ProviderRecord[]>();
  for (const v of metas.keys()) byVersion.set(v, []);
  for (const f of found) byVersion.set(f.version, [...(byVersion.get(f.version) ?? []), f.rec]);
  const versions = [...byVersion].map(([version, recs]): CatalogVersion => {
    const providers: CatalogProvider[] = [];
    for (const pname of new Set(recs.map((r) => r.name))) {
      const same = recs.filter((r) => r.name === pname).sort((a, b) => a.published_at.localeCompare(b.published_at) || a.architecture.localeCompare(b.architecture));
      const asked = same.filter((r) => r.default_architecture === true).at(-1);
      const chosen = asked ?? same.find((r) => r.default_architecture !== false) ?? same[0];
      for (const r of same) {
        providers.push({ name: r.name, url: r.blob, checksum_type: "sha256", checksum: r.checksum, architecture: r.architecture, default_architecture: r === chosen, size: r.size });
      }
    }
    const meta = metas.get(version);
    if (!meta) return { version, providers };
    const { providers: _p, pending_providers, ...fields } = meta;
    const out: CatalogVersion = { ...fields, version, providers };
    const pending = pending_providers?.filter((p) => !recs.some((r) => r.name === p.name && r.architecture === p.architecture));
    if (pending && pending.length > 0) out.pending_providers = pending;
    // A version created through Vagrant's API keeps timestamps: an upload into it changes it.
    const lastUpload = recs.map((r) => r.published_at).sort().at(-1);
    if (out.created_at !== undefined && lastUpload !== undefined && (out.updated_at === undefined || lastUpload > out.updated_at)) out.updated_at = lastUpload;
    return out;
  });
  return sortCatalog({ ...(box ?? { description: "" }), name, versions });
}

function checkRef(box: BoxRef): void {
  if (!isOrg(box.org) || !isBoxName(box.name)) throw new InputError(`invalid box name ${JSON.stringify(formatBoxRef(box))}`);
}

function conflict(box: BoxRef, version: string, provider: string, architecture: string): ConflictError {
  return new ConflictError(`${formatBoxRef(box)}@${version}/${provider}/${architecture} is already published`);
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isPreconditionFailed(err: unknown): boolean {
  return httpStatus(err) === 412;
}

function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, "$1");
}

export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
