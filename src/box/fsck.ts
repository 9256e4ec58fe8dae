import { lstat, readdir, rmdir, stat, unlink } from "node:fs/promises";
import { OutsideRootError } from "../fs/contain.js";
import { removeProviders, type Catalog } from "./catalog.js";
import { BOX_FILE, CATALOG, entryFile, INCOMING, isStalePart, LOCK, TEMP_CATALOG } from "./layout.js";
import { lockOwnerGone } from "./lock.js";
import { formatBoxRef, isVersion, type BoxRef } from "./names.js";
import type { BoxStore } from "./store.js";

/**
 * What `homelab box fsck` finds in a registry directory. Junk (left by a SIGKILL or a full disk)
 * is removed by the sweep every server start does and by `--repair`; a catalog entry whose file
 * is gone is dropped by `--repair` only; the rest is reported for a human to decide.
 */
export type FindingKind =
  | "partial-upload" // .incoming/*.part whose writer is gone
  | "temp-catalog" // .catalog.json.*.tmp
  | "orphan-box" // a box file no catalog entry names
  | "empty-version" // a version directory with nothing in it and no catalog entry
  | "stale-lock" // a .lock whose owner is gone (taken over after STALE_LOCK_MS)
  | "missing-file" // a catalog entry whose box file is missing
  | "size-mismatch" // a box file whose size is not the catalog's
  | "unknown-url" // a catalog entry whose url is not a file this store writes
  | "corrupt-catalog" // catalog.json does not parse
  | "malformed-record" // (S3) an object at a record key of ours that is not a record homelab wrote
  | "leads-outside" // a symlink in the registry that leads out of it (never followed)
  | "symlink"; // a symlink where an org or box directory belongs (never followed)

export interface Finding {
  readonly kind: FindingKind;
  /** Relative to the registry root. */
  readonly path: string;
  readonly detail: string;
}

const JUNK: ReadonlySet<FindingKind> = new Set(["partial-upload", "temp-catalog", "orphan-box", "empty-version", "stale-lock"]);
const REPAIRABLE: ReadonlySet<FindingKind> = new Set([...JUNK, "missing-file"]);

export function isJunk(kind: FindingKind): boolean {
  return JUNK.has(kind);
}
export function isRepairable(kind: FindingKind): boolean {
  return REPAIRABLE.has(kind);
}

export interface FsckReport {
  readonly findings: readonly Finding[];
  /** The findings that were repaired (a subset of `findings`). */
  readonly repaired: readonly Finding[];
}

/**
 * Checks a registry: every box directory under its lock (so a publish in flight, whose box file
 * is in place a moment before its catalog entry, is never judged an orphan). `repair`: "junk"
 * removes junk only (the sweep on start), "all" also drops entries whose file is gone.
 */
export async function fsckRegistry(store: BoxStore, opts: { repair?: "junk" | "all" } = {}): Promise<FsckReport> {
  const findings: Finding[] = [];
  const repaired: Finding[] = [];
  const fix = (f: Finding): boolean => opts.repair !== undefined && (opts.repair === "all" ? REPAIRABLE.has(f.kind) : JUNK.has(f.kind));

  for (const name of await readdir(store.path(INCOMING)).catch(() => [] as string[])) {
    if (!isStalePart(name)) continue;
    const f: Finding = { kind: "partial-upload", path: `${INCOMING}/${name}`, detail: "an upload whose writer is gone" };
    findings.push(f);
    if (fix(f) && (await unlink(store.path(INCOMING, name)).then(() => true, () => false))) repaired.push(f);
  }

  const links: string[] = [];
  for (const box of await store.listBoxDirs((rel) => links.push(rel))) {
    const lock = store.path(box.org, box.name, LOCK);
    if ((await lstat(lock).then(() => true, () => false)) && (await lockOwnerGone(lock))) {
      const f: Finding = { kind: "stale-lock", path: `${formatBoxRef(box)}/${LOCK}`, detail: "a lock left by a process that is gone" };
      findings.push(f);
      // Taking the lock below takes it over (once it is old enough to be sure): that is the repair.
      if (fix(f)) repaired.push(f);
    }
    const found = await store.withBoxLock(box, false, () => checkBox(store, box, fix, repaired)).catch((err: unknown): Finding[] => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return []; // the box was removed meanwhile
      if (err instanceof OutsideRootError) return [{ kind: "leads-outside", path: formatBoxRef(box), detail: err.message.replace(/ under \S+:/, ":") }];
      throw err;
    });
    findings.push(...found);
  }
  for (const rel of links) findings.push({ kind: "symlink", path: rel, detail: "a symlink where a box directory belongs (never followed; remove it by hand)" });
  return { findings, repaired };
}

async function checkBox(store: BoxStore, box: BoxRef, fix: (f: Finding) => boolean, repaired: Finding[]): Promise<Finding[]> {
  const out: Finding[] = [];
  const rel = (p: string): string => `${formatBoxRef(box)}/${p}`;
  const add = async (f: Finding, repair: () => Promise<unknown>): Promise<void> => {
    out.push(f);
    if (fix(f) && (await repair().then(() => true, () => false))) repaired.push(f);
  };

  for (const name of await readdir(store.path(box.org, box.name))) {
    if (TEMP_CATALOG.test(name)) await add({ kind: "temp-catalog", path: rel(name), detail: "a catalog write that never finished" }, () => unlink(store.path(box.org, box.name, name)));
  }

  let catalog: Catalog | undefined;
  try {
    catalog = await store.readCatalog(box);
  } catch (err) {
    // Without a catalog, no box file can be judged an orphan: report and stop here.
    out.push({ kind: "corrupt-catalog", path: rel(CATALOG), detail: (err as Error).message.replace(/^.*?: /, "") });
    return out;
  }

  const named = new Set<string>();
  let next = catalog;
  for (const v of catalog?.versions ?? []) {
    for (const p of v.providers) {
      const file = entryFile(v.version, p);
      if (file === undefined) {
        out.push({ kind: "unknown-url", path: rel(CATALOG), detail: `${v.version}/${p.name}/${p.architecture}: url ${JSON.stringify(p.url)} is not a file this registry writes` });
        continue;
      }
      named.add(file);
      const path = outsideChecked(() => store.path(box.org, box.name, file), rel(file), out);
      if (path === undefined) continue;
      const st = await stat(path).catch(() => undefined);
      if (st === undefined || !st.isFile()) {
        await add({ kind: "missing-file", path: rel(file), detail: `${v.version}/${p.name}/${p.architecture}: the catalog names a box file that is not there` }, async () => {
          next = removeProviders(next!, v.version, p.name, p.architecture).catalog;
          await store.writeCatalog(box, next);
        });
      } else if (st.size !== p.size && p.size !== 0) {
        out.push({ kind: "size-mismatch", path: rel(file), detail: `${st.size} bytes, the catalog says ${p.size}` });
      }
    }
  }

  for (const version of (await readdir(store.path(box.org, box.name))).filter(isVersion).sort()) {
    const dir = outsideChecked(() => store.path(box.org, box.name, version), rel(version), out);
    if (dir === undefined || !(await lstat(dir)).isDirectory()) continue;
    const files = await readdir(dir);
    for (const name of files) {
      const file = `${version}/${name}`;
      if (BOX_FILE.test(name) && !named.has(file)) {
        await add({ kind: "orphan-box", path: rel(file), detail: "a box file no catalog entry names" }, () => unlink(store.path(box.org, box.name, file)));
      }
    }
    const inCatalog = next?.versions.some((v) => v.version === version) ?? false;
    if (!inCatalog && (await readdir(dir)).length === 0) {
      await add({ kind: "empty-version", path: rel(version), detail: "an empty version directory" }, () => rmdir(dir));
    }
  }
  return out;
}

/** A path through the containment check, or a "leads-outside" finding (reported once per path). */
function outsideChecked(build: () => string, shown: string, out: Finding[]): string | undefined {
  try {
    return build();
  } catch (err) {
    if (!(err instanceof OutsideRootError)) throw err;
    if (!out.some((f) => f.kind === "leads-outside" && f.path === shown)) {
      out.push({ kind: "leads-outside", path: shown, detail: "a symlink that leads out of the registry (never followed; remove it by hand)" });
    }
    return undefined;
  }
}
