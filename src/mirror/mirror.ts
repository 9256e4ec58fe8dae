import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { findProvider, type Catalog } from "../box/catalog.js";
import { formatBoxRef } from "../box/names.js";
import { ConflictError } from "../box/store.js";
import { CancelledError, HomelabError, InputError } from "../errors.js";
import { ChecksumMismatchError, downloadVerified } from "./download.js";
import { parseSourceSpec, resolveSources, type SourceFailure, type SourceFile, type SourceNote } from "./source.js";
import { SourceClient, SourceError } from "./source-http.js";
import { describeInRegistry } from "../box/publish.js";
import { mirrorTarget, type MirrorTarget } from "./target.js";
import { defaultWorkDir, MirrorWorkDir } from "./work-dir.js";

export interface MirrorOptions {
  /** Catalog URLs, `org/box` names or `org` names (on `api`). */
  readonly sources: readonly string[];
  /** The HCP Vagrant API host for names (default https://vagrantcloud.com, the gem's default). */
  readonly api?: string;
  /** Bearer token for the source (private boxes): sent to the API host (or the catalog's host) only. */
  readonly sourceToken?: string;
  /** A registry directory or a `homelab box serve` URL. */
  readonly registry: string;
  /** Write token for a URL registry (default: $HOMELAB_REGISTRY_TOKEN). */
  readonly token?: string;
  /** Files copied at once (default 4). */
  readonly jobs?: number;
  /** List what would be copied; download and write nothing. */
  readonly dryRun?: boolean;
  /** Replace target entries that hold other bytes than the source's. */
  readonly force?: boolean;
  /** Partial downloads and records (default defaultWorkDir()). */
  readonly workDir?: string;
  /** Attempts per file for failures that may pass (5xx, a cut connection); default 4. */
  readonly attempts?: number;
  /** Wait before retry n is n times this (default 1000 ms). */
  readonly retryDelayMs?: number;
  readonly connectTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  readonly onEvent?: (event: MirrorEvent) => void;
  readonly signal?: AbortSignal;
}

export type ItemState = "copied" | "skipped" | "failed" | "would-copy";

/** One file of the mirror and what became of it. */
export interface MirrorItem {
  /** `org/box@version provider/arch` as the source names it. */
  readonly id: string;
  readonly box: string;
  readonly version: string;
  readonly provider: string;
  readonly architecture: string;
  readonly url: string;
  readonly checksum?: string;
}

export interface ItemResult extends MirrorItem {
  readonly state: ItemState;
  /** Why it was skipped or failed. */
  readonly reason?: string;
  /** Size of the file (copied or already present); 0 when unknown. */
  readonly bytes: number;
  /** Bytes fetched over the network for it in this run. */
  readonly received: number;
  /** Bytes the successful download found on disk (left by an earlier run or attempt) and resumed after. */
  readonly resumedFrom: number;
  readonly attempts: number;
  readonly ms: number;
  /** The sha256 the target holds it under. */
  readonly sha256?: string;
}

export type MirrorEvent =
  | { readonly kind: "plan"; readonly items: readonly MirrorItem[]; readonly notes: readonly SourceNote[]; readonly sourceFailures: readonly SourceFailure[] }
  | { readonly kind: "start"; readonly item: MirrorItem }
  | { readonly kind: "progress"; readonly item: MirrorItem; readonly bytes: number; readonly total?: number }
  | { readonly kind: "retry"; readonly item: MirrorItem; readonly attempt: number; readonly reason: string }
  | { readonly kind: "done"; readonly result: ItemResult };

/**
 * What became of a box's or a version's description: set in the target, kept as the target
 * has it (someone wrote another one there; the mirror never overwrites it), or failed.
 */
export interface DescriptionResult {
  readonly box: string;
  /** Absent: the box's own descriptions. */
  readonly version?: string;
  readonly state: "set" | "kept" | "failed";
  readonly reason?: string;
}

export interface MirrorSummary {
  readonly dryRun: boolean;
  /** Descriptions carried to the target (empty on a dry run). */
  readonly descriptions: readonly DescriptionResult[];
  readonly target: string;
  readonly results: readonly ItemResult[];
  readonly notes: readonly SourceNote[];
  /** Sources (or boxes of an organisation) that could not be read; counted in `failed`. */
  readonly sourceFailures: readonly SourceFailure[];
  readonly copied: { readonly count: number; readonly bytes: number };
  readonly skipped: { readonly count: number; readonly bytes: number };
  readonly failed: { readonly count: number };
  readonly wouldCopy: { readonly count: number };
  /** Bytes received over the network in this run. */
  readonly received: number;
  readonly elapsedMs: number;
  /** received / elapsed. */
  readonly bytesPerSecond: number;
}

export const DEFAULT_API = "https://vagrantcloud.com";
export const DEFAULT_JOBS = 4;

/**
 * Copies every released version, provider and architecture of the sources into a registry:
 * `jobs` files at a time, each downloaded (resuming a partial an earlier run left), checked
 * against the source's checksum and published by the registry's own publish (temp file, fsync,
 * rename, catalog switch), which a directory registry reads while the bytes arrive and discards
 * if the checksum fails, so nothing is half-published. A file the target already holds with
 * the same bytes is skipped. Failures of single files are results, not exceptions: the summary
 * says what was copied, skipped and failed; so is a source that cannot be read
 * (`sourceFailures`), and the other sources are still copied. Throws only for bad input
 * (InputError) or when cancelled (CancelledError).
 */
export async function mirrorBoxes(o: MirrorOptions): Promise<MirrorSummary> {
  const started = Date.now();
  if (o.sources.length === 0) throw new InputError("nothing to mirror: give at least one source");
  const api = o.api ?? DEFAULT_API;
  const specs = o.sources.map((s) => parseSourceSpec(s, api));
  const jobs = o.jobs ?? DEFAULT_JOBS;
  if (!Number.isInteger(jobs) || jobs < 1) throw new InputError(`jobs: expected a positive whole number, got ${jobs}`);
  const token = o.token ?? (process.env.HOMELAB_REGISTRY_TOKEN || undefined);
  if (!o.dryRun && /^https?:\/\//i.test(o.registry) && token === undefined) throw new InputError(`publishing to ${o.registry} needs a token`, { kind: "token-needed" });

  // The token goes to the host it is for: the API host for names, the catalog's host for a URL.
  const tokenOrigin = specs.some((s) => s.kind !== "catalog") ? new URL(api).origin : specs[0]?.kind === "catalog" ? new URL(specs[0].url).origin : undefined;
  const client = new SourceClient({
    ...(o.sourceToken === undefined || tokenOrigin === undefined ? {} : { token: o.sourceToken, tokenOrigin }),
    ...(o.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: o.connectTimeoutMs }),
    ...(o.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: o.idleTimeoutMs }),
  });
  const { files, notes, failures: sourceFailures } = await resolveSources(specs, client, {
    ...(o.attempts === undefined ? {} : { attempts: o.attempts }),
    ...(o.retryDelayMs === undefined ? {} : { retryDelayMs: o.retryDelayMs }),
  });
  const target = mirrorTarget(o.registry, token);
  const items = files.map(toItem);
  o.onEvent?.({ kind: "plan", items, notes, sourceFailures });

  const catalogs = new Map<string, Promise<Catalog | undefined>>();
  const catalogOf = (f: SourceFile): Promise<Catalog | undefined> => {
    const key = formatBoxRef(f.box!);
    let c = catalogs.get(key);
    if (!c) catalogs.set(key, (c = target.catalog(f.box!)));
    return c;
  };
  const work = o.dryRun ? undefined : await MirrorWorkDir.open(o.workDir ?? defaultWorkDir());
  const results: ItemResult[] = new Array(files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      if (o.signal?.aborted) return;
      const i = next++;
      const f = files[i]!;
      const item = items[i]!;
      const t0 = Date.now();
      o.onEvent?.({ kind: "start", item });
      let result: ItemResult;
      try {
        result = await mirrorOne(f, item, { target, catalogOf, work, client, o });
      } catch (err) {
        if (o.signal?.aborted) throw new CancelledError("mirror cancelled; partial downloads are kept for the next run");
        // A filesystem refusal (EACCES, ENOSPC in the work directory) fails this file, not the run.
        if (!(err instanceof HomelabError) && typeof (err as NodeJS.ErrnoException | undefined)?.code !== "string") throw err;
        result = { ...item, state: "failed", reason: (err as Error).message, bytes: 0, received: 0, resumedFrom: 0, attempts: 1, ms: Date.now() - t0 };
      }
      results[i] = result;
      o.onEvent?.({ kind: "done", result });
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, Math.max(files.length, 1)) }, worker));
  if (o.signal?.aborted) throw new CancelledError("mirror cancelled; partial downloads are kept for the next run");
  const descriptions = o.dryRun ? [] : await carryDescriptions(files, results, catalogOf, o.registry, token);

  const sum = (s: ItemState) => results.filter((r) => r.state === s);
  const received = results.reduce((n, r) => n + r.received, 0);
  const elapsedMs = Date.now() - started;
  return {
    dryRun: o.dryRun === true,
    descriptions,
    target: target.label,
    results,
    notes,
    sourceFailures,
    copied: { count: sum("copied").length, bytes: sum("copied").reduce((n, r) => n + r.bytes, 0) },
    skipped: { count: sum("skipped").length, bytes: sum("skipped").reduce((n, r) => n + r.bytes, 0) },
    failed: { count: sum("failed").length + sourceFailures.length },
    wouldCopy: { count: sum("would-copy").length },
    received,
    elapsedMs,
    bytesPerSecond: received / Math.max(elapsedMs / 1000, 0.001),
  };
}

/**
 * Carries the source's descriptions to the target, after the files: a box's description and
 * short description and each version's description are filled in only where the target has
 * none (a version this run created; a box or version an earlier, killed run copied before it
 * got here). One the target has and that differs (a user published that version there, or
 * edited the box) is kept as it is, and the summary says so: a mirror never overwrites text.
 */
async function carryDescriptions(
  files: readonly SourceFile[],
  results: readonly ItemResult[],
  catalogOf: (f: SourceFile) => Promise<Catalog | undefined>,
  registry: string,
  token: string | undefined,
): Promise<DescriptionResult[]> {
  const out: DescriptionResult[] = [];
  const byBox = new Map<string, Array<{ f: SourceFile; r: ItemResult }>>();
  files.forEach((f, i) => {
    const r = results[i];
    if (f.box === undefined || r === undefined) return;
    const key = formatBoxRef(f.box);
    byBox.set(key, [...(byBox.get(key) ?? []), { f, r }]);
  });
  for (const [name, entries] of byBox) {
    // Only a box the target now holds something of (copied or already there) is described.
    const landed = entries.filter((e) => e.r.state === "copied" || e.r.state === "skipped");
    if (landed.length === 0) continue;
    const first = landed[0]!.f;
    const before = await catalogOf(first);
    const box: { description?: string; short_description?: string } = {};
    for (const field of ["description", "short_description"] as const) {
      const wanted = first.boxText[field];
      if (wanted === undefined) continue;
      const present = before?.[field] ?? "";
      if (present === "") box[field] = wanted;
      else if (present !== wanted) out.push({ box: name, state: "kept", reason: `the target's ${field.replace("_", " ")} differs from the source's; kept as it is` });
    }
    const versions = new Map<string, string>();
    for (const { f } of landed) {
      if (f.versionDescription === undefined || versions.has(f.version) || out.some((d) => d.box === name && d.version === f.version)) continue;
      const present = before?.versions.find((v) => v.version === f.version)?.description ?? "";
      if (present === "") versions.set(f.version, f.versionDescription);
      else if (present !== f.versionDescription) out.push({ box: name, version: f.version, state: "kept", reason: "the target's version has another description; kept as it is" });
    }
    if (Object.keys(box).length === 0 && versions.size === 0) continue;
    try {
      await describeInRegistry(registry, first.box!, box, [...versions].map(([version, description]) => ({ version, description })), token);
      if (Object.keys(box).length > 0) out.push({ box: name, state: "set" });
      for (const version of versions.keys()) out.push({ box: name, version, state: "set" });
    } catch (err) {
      if (!(err instanceof HomelabError)) throw err;
      out.push({ box: name, state: "failed", reason: `setting its descriptions failed: ${err.message}` });
    }
  }
  return out;
}

function toItem(f: SourceFile): MirrorItem {
  return {
    id: `${f.name}@${f.version} ${f.provider}/${f.architecture ?? "amd64"}`,
    box: f.name,
    version: f.version,
    provider: f.provider,
    architecture: f.architecture ?? "amd64",
    url: f.url,
    ...(f.checksum ? { checksum: `${f.checksum.type}:${f.checksum.value}` } : {}),
  };
}

interface Ctx {
  target: MirrorTarget;
  catalogOf: (f: SourceFile) => Promise<Catalog | undefined>;
  work: MirrorWorkDir | undefined;
  client: SourceClient;
  o: MirrorOptions;
}

async function mirrorOne(f: SourceFile, item: MirrorItem, { target, catalogOf, work, client, o }: Ctx): Promise<ItemResult> {
  const t0 = Date.now();
  const base = { ...item, received: 0, resumedFrom: 0, attempts: 0 };
  const done = (state: ItemState, extra: Partial<ItemResult>): ItemResult => ({ ...base, state, bytes: 0, ms: Date.now() - t0, ...extra });
  if (f.problem !== undefined || f.box === undefined || f.checksum === undefined) return done("failed", { reason: f.problem ?? "cannot be copied" });
  const sum = f.checksum;
  const arch = f.architecture ?? "amd64";
  const ledgerId = `${formatBoxRef(f.box)}@${f.version}/${f.provider}/${arch}`;

  const present = findProvider((await catalogOf(f)) ?? { name: "", description: "", versions: [] }, f.version, f.provider, arch);
  let sameAsPresent = false;
  if (present) {
    const ledger = await work?.readLedger(target.label, ledgerId);
    sameAsPresent = sum.type === "sha256" ? present.checksum === sum.value : ledger !== undefined && ledger.source.type === sum.type && ledger.source.value === sum.value && ledger.sha256 === present.checksum;
    if (sameAsPresent) return done("skipped", { reason: "already in the target with the same checksum", bytes: present.size, sha256: present.checksum });
    if (sum.type === "sha256" && !o.force) return done("failed", { reason: `the target holds other bytes for it (sha256 ${present.checksum.slice(0, 12)}…, the source's is ${sum.value.slice(0, 12)}…); replace them with force`, bytes: present.size });
  }
  if (o.dryRun || work === undefined) return done("would-copy", present ? { reason: "in the target, but its checksum cannot be compared without downloading (not sha256)" } : {});

  const release = await work.claim(sum);
  try {
    const attempts = o.attempts ?? 4;
    let fromScratch = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const entry = { box: f.box, version: f.version, provider: f.provider, architecture: f.architecture, defaultArchitecture: f.defaultArchitecture, force: o.force === true };
        // Straight into a directory registry while it downloads, unless the bytes must first be compared with what it holds.
        const stream = present === undefined ? target.publishStream : undefined;
        const dl = await downloadVerified(client, work, f.url, sum, {
          ...(o.signal ? { signal: o.signal } : {}),
          onProgress: (p) => o.onEvent?.({ kind: "progress", item, ...p }),
          ...(stream ? { consume: (whole, total) => stream(whole, entry, total) } : {}),
        });
        base.attempts = attempt;
        base.received += dl.received;
        // What the successful attempt found on disk: a partial from an earlier run or attempt.
        base.resumedFrom = dl.resumedFrom;
        if (present && sum.type !== "sha256") {
          // A source checksum that is not sha256 cannot be compared with the target's: the bytes can.
          const sha = await sha256File(dl.file);
          if (sha === present.checksum) {
            await work.writeLedger(target.label, ledgerId, { source: sum, sha256: sha });
            await work.dropPart(sum);
            return done("skipped", { reason: "already in the target with the same bytes", bytes: present.size, sha256: sha });
          }
          if (!o.force) return done("failed", { reason: `the target holds other bytes for it (sha256 ${present.checksum.slice(0, 12)}…); replace them with force`, bytes: dl.size });
        }
        const published = dl.consumed ?? (await target.publish(dl.file, entry));
        await work.writeLedger(target.label, ledgerId, { source: sum, sha256: published.checksum });
        await work.dropPart(sum);
        return done("copied", { bytes: dl.size, sha256: published.checksum });
      } catch (err) {
        base.attempts = attempt;
        if (err instanceof ConflictError) return done("failed", { reason: `${err.message} (published meanwhile by someone else)` });
        // A resumed file that hashes wrong may have had a torn partial (a crash): once more from zero (the partial is gone).
        if (err instanceof ChecksumMismatchError && err.resumedFrom > 0 && !fromScratch) {
          fromScratch = true;
          o.onEvent?.({ kind: "retry", item, attempt, reason: `${err.message}; fetching it whole again` });
          continue;
        }
        if (err instanceof ChecksumMismatchError) return done("failed", { reason: err.message });
        if (o.signal?.aborted) throw err;
        if (!(err instanceof SourceError) || !err.retryable || attempt >= attempts) throw err;
        o.onEvent?.({ kind: "retry", item, attempt, reason: err.message });
        await sleep((o.retryDelayMs ?? 1000) * attempt, o.signal);
      }
    }
  } finally {
    await release();
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}
