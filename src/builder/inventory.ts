import { lstat, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { RECORD_FILE, type BuildRecord } from "./record.js";

/**
 * The builds under `<workDir>/builds/`, and pruning them. Only what homelab wrote is ever
 * removed: a build directory is homelab's when its name is a bundle hash and every entry in it is
 * one homelab writes there (build.json, bundle/, logs/, boxes/, and while a build runs vm/ and
 * .boxes.partial-*). A file a user put in it, or anything else in builds/ or the work directory,
 * makes homelab leave it alone.
 */

const HASH = /^[0-9a-f]{64}$/;
/** What a build directory holds, all written by buildBoxes. */
const OWN_ENTRIES = new Set([RECORD_FILE, "bundle", "logs", "boxes", "vm"]);
const PARTIAL = /^\.boxes\.partial-/;

export type BuildState =
  /** build.json names its boxes: a cache hit for the same inputs. */
  | "finished"
  /** No build.json: every attempt failed or was cancelled. */
  | "unfinished"
  /** A VM disk or a staging directory is there: a build is running now (or was killed). */
  | "busy";

export interface BuildEntry {
  hash: string;
  dir: string;
  state: BuildState;
  /** The record of the last finished build (also when a later rebuild is running). */
  record?: BuildRecord;
  /** Bytes on disk, every file under the directory (symlinks counted as links). */
  size: number;
  /** When the build finished, else when the directory last changed (ms since the epoch). */
  time: number;
}

export interface BuildInventory {
  builds: BuildEntry[];
  /** Entries of builds/ that are not homelab's (never touched), with why. */
  foreign: { name: string; reason: string }[];
}

async function treeSize(path: string): Promise<number> {
  const st = await lstat(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await readdir(path)) total += await treeSize(join(path, name));
  return total;
}

async function readRecord(dir: string): Promise<BuildRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(join(dir, RECORD_FILE), "utf8")) as BuildRecord;
    return typeof record === "object" && record !== null && Array.isArray(record.boxes) ? record : undefined;
  } catch {
    return undefined;
  }
}

/** The builds in `<workDir>/builds`, newest first. A missing directory is no builds. */
export async function listBuilds(workDir: string): Promise<BuildInventory> {
  const root = join(workDir, "builds");
  const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const inventory: BuildInventory = { builds: [], foreign: [] };
  for (const name of names.sort()) {
    const dir = join(root, name);
    const st = await lstat(dir);
    if (!st.isDirectory()) {
      inventory.foreign.push({ name, reason: st.isSymbolicLink() ? "a symbolic link" : "not a directory" });
      continue;
    }
    if (!HASH.test(name)) {
      inventory.foreign.push({ name, reason: "not named by a bundle hash" });
      continue;
    }
    const entries = await readdir(dir);
    const strange = entries.filter((e) => !OWN_ENTRIES.has(e) && !PARTIAL.test(e));
    if (strange.length > 0) {
      inventory.foreign.push({ name, reason: `holds ${strange.map((s) => JSON.stringify(s)).join(", ")}, which homelab did not write` });
      continue;
    }
    const record = await readRecord(dir);
    if (record !== undefined && record.hash !== name) {
      inventory.foreign.push({ name, reason: `its build.json names another build (${String(record.hash).slice(0, 12)})` });
      continue;
    }
    const busy = entries.includes("vm") || entries.some((e) => PARTIAL.test(e));
    const ended = record === undefined ? Number.NaN : Date.parse(record.endedAt);
    inventory.builds.push({
      hash: name,
      dir,
      state: busy ? "busy" : record === undefined ? "unfinished" : "finished",
      ...(record === undefined ? {} : { record }),
      size: await treeSize(dir),
      time: Number.isFinite(ended) ? ended : st.mtimeMs,
    });
  }
  inventory.builds.sort((a, b) => b.time - a.time || a.hash.localeCompare(b.hash));
  return inventory;
}

export interface PrunePlan {
  remove: BuildEntry[];
  keep: BuildEntry[];
  /** Busy builds: never removed here (a build may be running in them). */
  busy: BuildEntry[];
}

/**
 * What `clean` removes: every unfinished build, and the finished builds beyond the newest
 * `keep` (all of them when `keep` is 0). Busy builds are never removed.
 */
export function planPrune(builds: readonly BuildEntry[], keep: number): PrunePlan {
  const plan: PrunePlan = { remove: [], keep: [], busy: [] };
  let kept = 0;
  for (const b of builds) {
    if (b.state === "busy") plan.busy.push(b);
    else if (b.state === "finished" && kept < keep) {
      plan.keep.push(b);
      kept++;
    } else plan.remove.push(b);
  }
  return plan;
}

/**
 * Removes the planned builds (each a directory listBuilds vouched for), looking at each once more
 * right before: a build that started since, or a file a user added since, keeps it. Returns
 * the builds left in place.
 */
export async function removeBuilds(builds: readonly BuildEntry[]): Promise<BuildEntry[]> {
  const left: BuildEntry[] = [];
  for (const b of builds) {
    const entries = await readdir(b.dir).catch(() => undefined);
    if (entries === undefined) continue;
    if (entries.some((e) => e === "vm" || PARTIAL.test(e) || (!OWN_ENTRIES.has(e) && !PARTIAL.test(e)))) {
      left.push(b);
      continue;
    }
    await rm(b.dir, { recursive: true, force: true });
  }
  return left;
}
