import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, readdir, readFile, rename, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { processExists } from "../box/lock.js";
import { HomelabError, InputError, JobError } from "../errors.js";
import { syncDir, writeFileAtomic } from "./atomic-write.js";
import { resolveInside } from "./contain.js";

/**
 * A directory homelab writes into but does not own as a whole: a bundle the user also runs
 * `packer build .` in (Packer adds output/, output-vm/, packer_cache/), keeps notes in, or puts
 * under git. homelab writes only into a directory that is missing, empty, or carries its marker,
 * and on a rewrite replaces exactly the files the marker lists. Everything else stays.
 *
 * The marker is a small JSON file:
 *
 *     { "generator": "homelab", "version": "0.1.0", "files": ["README.md", "scripts/a.sh", ...],
 *       "pending": { "dirs": [".homelab-staging-…", ".homelab-previous-…"], "files": [...] } }
 *
 * `pending` is there only while a write is under way, so the next write can clean up after a
 * killed one: it names the scratch directories and the files that may be in them. Every name in
 * the marker goes through `resolveInside` before it is touched, so an edited marker cannot make
 * homelab delete or replace anything outside the directory.
 */
export interface OwnedDirMarker {
  generator: "homelab";
  version: string;
  files: string[];
  pending?: { dirs: string[]; files: string[] };
}

export interface OwnedFile {
  content: string | Uint8Array;
  mode: number;
}

/** The directory has content homelab did not write (no marker). Exit code 2. */
export class NotOwnedDirError extends InputError {
  constructor(
    readonly dir: string,
    readonly reason: string,
    readonly markerName: string,
  ) {
    super(`${dir}: ${reason}; refusing to write into it`, {
      details: [`homelab writes only into a missing or empty directory, or one holding its own ${markerName} marker`],
    });
  }
}

const SCRATCH = /^\.homelab-(staging|previous)-\d+-[0-9a-f]{8}$/;

/**
 * Replaces homelab's files in `dir` with `files` (relative names), leaving every other entry
 * alone. Steps, each recorded in the marker first so a kill at any point leaves a state the next
 * call cleans up:
 *
 *  1. write every new file into a staging directory inside `dir` (same filesystem, so renames
 *     are atomic); a failure here leaves the previous files exactly as they were;
 *  2. move each previous file aside into a backup directory and the new one into place; an error
 *     here puts the previous files back;
 *  3. drop the previous files and the scratch directories, then record the new list alone.
 *
 * A kill during step 2 (a few renames) leaves a mix, with every previous file still in
 * `.homelab-previous-*`; the marker then lists both sets, so the next write replaces all of them.
 */
export async function replaceOwnedFiles(
  dir: string,
  files: ReadonlyMap<string, OwnedFile>,
  opts: { markerName: string; version: string },
): Promise<void> {
  const target = resolve(dir);
  const { markerName } = opts;
  const previous = await claimDir(target, dir, markerName);
  const oldNames = previous?.files ?? [];
  if (previous?.pending) await removeScratch(target, previous.pending.dirs, [...oldNames, ...previous.pending.files]);

  const names = [...files.keys()].sort();
  if (names.includes(markerName)) throw new JobError(`${dir}: the files to write include the marker name ${markerName}`);
  // Every name, ours and the marker's, through the one containment check before anything moves.
  for (const name of [...names, ...oldNames]) await resolveInside(target, name);

  const token = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const staging = `.homelab-staging-${token}`;
  const backup = `.homelab-previous-${token}`;
  const pending = { dirs: [staging, backup], files: names };
  const allNames = [...new Set([...oldNames, ...names])].sort();
  const writeMarker = (list: string[], withPending: boolean) =>
    writeFileAtomic(
      join(target, markerName),
      `${JSON.stringify({ generator: "homelab", version: opts.version, files: list, ...(withPending ? { pending } : {}) } satisfies OwnedDirMarker, null, 2)}\n`,
    );
  const abandon = async () => {
    await removeScratch(target, pending.dirs, allNames);
    if (previous) await writeMarker(oldNames, false);
    else await unlink(join(target, markerName)).catch(() => {});
  };

  // 1. stage
  await writeMarker(oldNames, true);
  const stagingDir = join(target, staging);
  try {
    await mkdir(stagingDir);
    for (const name of names) {
      const dest = join(stagingDir, name);
      await mkdir(dirname(dest), { recursive: true }); // inside a directory we just made
      await writeSynced(dest, files.get(name)!);
    }
  } catch (err) {
    await abandon();
    throw err;
  }

  // 2. swap
  await writeMarker(allNames, true);
  const backupDir = join(target, backup);
  const moved: string[] = [];
  const placed: string[] = [];
  const keep = new Set(names);
  try {
    await mkdir(backupDir);
    for (const name of names) {
      const final = await resolveInside(target, name);
      await mkdirsInside(target, dirname(name));
      if (await moveAside(final, join(backupDir, name), name, dir)) moved.push(name);
      await rename(join(stagingDir, name), final);
      placed.push(name);
    }
    for (const name of oldNames.filter((n) => !keep.has(n))) {
      if (await moveAside(await resolveInside(target, name), join(backupDir, name), name, dir)) moved.push(name);
    }
    await syncDir(target);
  } catch (err) {
    for (const name of placed.reverse()) await unlink(await resolveInside(target, name)).catch(() => {});
    for (const name of moved) await rename(join(backupDir, name), await resolveInside(target, name)).catch(() => {});
    await abandon();
    throw err;
  }

  // 3. commit: every new file is in place. The scratch directories go before the marker drops
  // `pending`: a kill in between leaves a marker that still names them for the next write.
  await removeScratch(target, pending.dirs, allNames);
  // Directories that held only previous files of ours (scripts/old/) go; any with a user's file stay.
  for (const sub of parentDirs(oldNames.filter((n) => !keep.has(n)))) await rmdir(join(target, sub)).catch(() => {});
  await writeMarker(names, false);
}

/**
 * The directory's marker, undefined when the directory is missing (then created) or empty.
 * Anything else (a file, a non-empty directory without a marker, an unreadable marker) is refused.
 */
async function claimDir(target: string, label: string, markerName: string): Promise<OwnedDirMarker | undefined> {
  try {
    if (!(await stat(target)).isDirectory()) throw new NotOwnedDirError(label, "exists and is not a directory", markerName);
  } catch (err) {
    if (err instanceof HomelabError) throw err;
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    await mkdir(target, { recursive: true });
    return undefined;
  }
  await sweepMarkerTemps(target, markerName);
  let text: string;
  try {
    text = await readFile(join(target, markerName), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const entries = await readdir(target);
    if (entries.length > 0) {
      const shown = entries.sort().slice(0, 3).join(", ") + (entries.length > 3 ? ", …" : "");
      throw new NotOwnedDirError(label, `not empty (${shown}) and not written by homelab (no ${markerName})`, markerName);
    }
    return undefined;
  }
  return parseMarker(text, label, markerName);
}

function parseMarker(text: string, label: string, markerName: string): OwnedDirMarker {
  const bad = (why: string) => new NotOwnedDirError(label, `${markerName} is not a homelab marker (${why})`, markerName);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  const m = raw as Partial<OwnedDirMarker> | null;
  const isNames = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");
  if (typeof m !== "object" || m === null || m.generator !== "homelab") throw bad('no "generator": "homelab"');
  if (!isNames(m.files)) throw bad('"files" must be a list of names');
  if (m.pending !== undefined) {
    if (typeof m.pending !== "object" || m.pending === null || !isNames(m.pending.dirs) || !isNames(m.pending.files)) throw bad('bad "pending"');
    const odd = m.pending.dirs.find((d) => !SCRATCH.test(d));
    if (odd !== undefined) throw bad(`${JSON.stringify(odd)} is not a homelab scratch directory name`);
  }
  return { generator: "homelab", version: String(m.version ?? ""), files: m.files, ...(m.pending ? { pending: m.pending } : {}) };
}

/**
 * Removes scratch directories of ours: only the listed names inside them, then the directories
 * left empty. Whatever else someone put there stays (and so does the directory holding it).
 */
async function removeScratch(target: string, dirs: readonly string[], names: readonly string[]): Promise<void> {
  for (const d of dirs) {
    const root = await resolveInside(target, d);
    if (!(await lstat(root).then((s) => s.isDirectory(), () => false))) continue;
    for (const name of names) await unlink(await resolveInside(target, `${d}/${name}`)).catch(ignoreMissing);
    for (const sub of parentDirs(names)) await rmdir(join(root, sub)).catch(() => {});
    await rmdir(root).catch(() => {});
  }
}

/**
 * Removes the temporary files a killed process left while rewriting the marker (writeFileAtomic
 * names them `.<marker>.<pid>.<8 hex>.tmp`), when that process is gone. Only that exact pattern.
 */
async function sweepMarkerTemps(target: string, markerName: string): Promise<void> {
  const escaped = markerName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^\\.${escaped}\\.(\\d+)\\.[0-9a-f]{8}\\.tmp$`);
  for (const entry of await readdir(target)) {
    const pid = Number(pattern.exec(entry)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processExists(pid)) continue;
    await unlink(join(target, entry)).catch(ignoreMissing);
  }
}

/** Moves `from` to `to` if it exists; a directory at a name of ours is a user's, never moved. */
async function moveAside(from: string, to: string, name: string, label: string): Promise<boolean> {
  const st = await lstat(from).catch(() => undefined);
  if (!st) return false;
  if (st.isDirectory()) throw new InputError(`${label}: ${name} is a directory, where homelab writes a file; move it away first`);
  await mkdir(dirname(to), { recursive: true }); // inside our backup directory
  await rename(from, to);
  return true;
}

/** Creates `rel` under `target` one level at a time, each level through the containment check. */
async function mkdirsInside(target: string, rel: string): Promise<void> {
  if (rel === "." || rel === "") return;
  let sofar = "";
  for (const part of rel.split("/")) {
    sofar = sofar ? `${sofar}/${part}` : part;
    const path = await resolveInside(target, sofar);
    await mkdir(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "EEXIST") throw err;
    });
  }
}

/** The parent directories of the names, deepest first ("a/b/c" gives "a/b", then "a"). */
function parentDirs(names: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const name of names) {
    for (let d = dirname(name); d !== "." && d !== ""; d = dirname(d)) dirs.add(d);
  }
  return [...dirs].sort((a, b) => b.split("/").length - a.split("/").length || a.localeCompare(b));
}

async function writeSynced(path: string, file: OwnedFile): Promise<void> {
  const fh = await open(path, "wx", file.mode);
  try {
    await fh.writeFile(file.content);
    await fh.chmod(file.mode); // the mode passed to open() is masked by the umask
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== "ENOENT" && err.code !== "ENOTDIR") throw err;
}
