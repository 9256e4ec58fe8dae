import { formatBoxRef } from "./names.js";
import type { Finding, FsckReport } from "./fsck.js";
import { isRepairable } from "./fsck.js";
import { parseRecord } from "./s3-layout.js";
import { mapBounded, parseBoxRecord, parseVersionRecord, type S3BoxStore } from "./s3-store.js";

/** Records read at once (one GET each). */
const READ_PARALLEL = 16;

/**
 * How old an unnamed box file or an unfinished upload must be before fsck calls it junk.
 *
 * Several servers share a bucket, and a publish on any of them is, for a while, exactly what a
 * killed one leaves: its box file is complete a moment before its record is written, and its
 * multipart upload is unfinished for as long as the copy takes. This process cannot ask the
 * other machines, and S3 has no lock to hold; only age tells them apart. An upload in flight
 * writes a part every few seconds and a record follows its file within a second, so an hour of
 * silence is far beyond any live publish and still short enough for a human running fsck.
 */
export const DEFAULT_GRACE_MS = 60 * 60_000;

export interface S3FsckOptions {
  readonly repair?: boolean;
  /** Default DEFAULT_GRACE_MS; 0 judges everything now (only when no publish can be running). */
  readonly graceMs?: number;
  /** The clock (ms since the epoch); a test injects one instead of waiting an hour. */
  readonly now?: () => number;
}

export interface S3FsckReport extends FsckReport {
  /** Findings younger than the grace period: reported, never repaired, not counted as problems. */
  readonly recent: readonly Finding[];
}

/**
 * What `homelab box fsck --store s3://…` finds: the directory fsck's findings in the S3 layout
 * (s3-layout.ts). Only keys of that layout under the prefix are read as ours; `repair` removes
 * only those (box files, records whose text it read, uploads to box file keys), so a user's
 * objects, in the prefix or beside it, are never touched.
 */
export async function fsckS3Registry(store: S3BoxStore, opts: S3FsckOptions = {}): Promise<S3FsckReport> {
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const now = opts.now ?? Date.now;
  const layout = store.keys;
  const findings: Finding[] = [];
  const repaired: Finding[] = [];
  const recent: Finding[] = [];
  const young = (time: number): boolean => now() - time < graceMs;
  const age = (time: number): string => `${Math.max(0, Math.round((now() - time) / 60_000))} min old`;
  const add = async (f: Finding, repair: () => Promise<boolean>): Promise<void> => {
    findings.push(f);
    if (opts.repair && isRepairable(f.kind) && (await repair().catch(() => false))) repaired.push(f);
  };

  const objects = await store.listObjects();
  const byKey = new Map(objects.map((o) => [o.key, o]));
  const named = new Set<string>();
  const records = objects.flatMap((o) => {
    const rec = layout.parseAnyKey(o.key);
    return rec ? [{ o, rec }] : [];
  });
  const texts = await mapBounded(records, READ_PARALLEL, ({ o }) => store.readText(o.key));
  for (const [i, { o, rec }] of records.entries()) {
    const text = texts[i];
    if (text === undefined) continue; // removed since the LIST
    if (rec.kind === "version" || rec.kind === "box") {
      const ok = rec.kind === "version" ? parseVersionRecord(text, rec.version) : parseBoxRecord(text, formatBoxRef(rec.box));
      if (!ok) findings.push({ kind: "malformed-record", path: o.key, detail: `not a ${rec.kind} record homelab wrote (left for a human: it may be someone's object)` });
      continue;
    }
    const what = `${formatBoxRef(rec.box)}@${rec.version}/${rec.provider}/${rec.architecture}`;
    const record = parseRecord(text, rec);
    if (!record) {
      findings.push({ kind: "malformed-record", path: o.key, detail: `${what}: not a provider record homelab wrote (left for a human: it may be someone's object)` });
      continue;
    }
    const blob = layout.blobKey(rec.box, record.blob, rec.version)!;
    named.add(blob);
    const listed = byKey.get(blob);
    if (listed === undefined && !(await store.hasObject(blob))) {
      // The record is dropped only when it still has the text judged here (a force publish may have replaced it).
      await add({ kind: "missing-file", path: o.key, detail: `${what}: the record names a box file that is not there (${blob})` }, () => store.removeOwn(o.key, text));
    } else if (listed !== undefined && listed.size !== record.size) {
      findings.push({ kind: "size-mismatch", path: blob, detail: `${listed.size} bytes, the record says ${record.size}` });
    }
  }

  for (const o of objects) {
    if (!layout.isBlobKey(o.key) || named.has(o.key)) continue;
    const f: Finding = { kind: "orphan-box", path: o.key, detail: `a box file no record names (${age(o.lastModified)})` };
    if (young(o.lastModified)) {
      recent.push({ ...f, detail: `${f.detail}: may be a publish in flight on another server` });
      continue;
    }
    // Named meanwhile? A record follows its file within a second; read the records again before removing.
    await add(f, async () => !(await namedNow(store, o.key)) && store.removeOwn(o.key));
  }

  for (const u of await store.listBlobUploads()) {
    const f: Finding = { kind: "partial-upload", path: u.key, detail: `an unfinished upload, last written ${age(u.lastWrite)} (upload id ${u.uploadId})` };
    if (young(u.lastWrite)) {
      recent.push({ ...f, detail: `${f.detail}: may be a publish in flight on another server` });
      continue;
    }
    await add(f, () => store.abortUpload(u.key, u.uploadId));
  }
  findings.push(...recent);
  return { findings, repaired, recent };
}

/** Whether a provider record names this box file now (read again from the bucket). */
async function namedNow(store: S3BoxStore, blobKey: string): Promise<boolean> {
  const layout = store.keys;
  for (const o of await store.listObjects()) {
    const rec = layout.parseRecordKey(o.key);
    if (!rec) continue;
    const text = await store.readText(o.key);
    const record = text === undefined ? undefined : parseRecord(text, rec);
    if (record && layout.blobKey(rec.box, record.blob, rec.version) === blobKey) return true;
  }
  return false;
}
