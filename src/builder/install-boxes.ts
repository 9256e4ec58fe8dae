import { lstat, mkdir, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { processExists } from "../box/lock.js";
import { JobError } from "../errors.js";
import { syncDir } from "../fs/atomic-write.js";
import { resolveInside } from "../fs/contain.js";
import { RECORD_FILE, type BuildRecord, type BuiltBox } from "./record.js";

/** Where a box lives in a build directory: the only names `installBoxes` replaces or removes. */
const BOX_FILE = /^boxes\/[^/]+\.box$/;

/** Per-attempt scratch directories: `.attempt-<pid>-<random>`, made empty by mkdtemp. */
export const ATTEMPT_PREFIX = ".attempt-";
const ATTEMPT = /^\.attempt-(\d+)-[A-Za-z0-9]{6}$/;

/**
 * Moves freshly built boxes (basenames in `fromDir`) into `<buildDir>/boxes/` and removes the
 * boxes the previous record listed that this build did not make again. Nothing else in the build
 * directory, boxes/ included, is touched: a file someone put there stays.
 *
 * build.json is removed first and written again by the caller once every box is in place, so a
 * kill in between leaves no record, i.e. a rebuild next time, never a cache hit on a mix of old
 * and new boxes.
 */
export async function installBoxes(buildDir: string, fromDir: string, boxes: readonly BuiltBox[]): Promise<BuiltBox[]> {
  const previous = await readRecordLoosely(buildDir);
  await unlink(join(buildDir, RECORD_FILE)).catch(ignoreMissing);
  const boxesDir = await resolveInside(buildDir, "boxes");
  await mkdir(boxesDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EEXIST") throw err;
  });
  if (!(await lstat(boxesDir)).isDirectory()) throw new JobError(`${boxesDir}: expected a directory for the boxes`);
  const installed: BuiltBox[] = [];
  for (const box of boxes) {
    const file = `boxes/${box.file}`;
    await rename(join(fromDir, box.file), await resolveInside(buildDir, file));
    installed.push({ ...box, file });
  }
  await syncDir(boxesDir);
  const kept = new Set(installed.map((b) => b.file));
  for (const old of previous?.boxes ?? []) {
    // The record is a file on disk: only a name of the form boxes/<x>.box, checked for containment.
    if (typeof old?.file !== "string" || !BOX_FILE.test(old.file) || kept.has(old.file)) continue;
    await unlink(await resolveInside(buildDir, old.file)).catch(ignoreMissing);
  }
  return installed;
}

/**
 * Removes the scratch directories of earlier attempts whose process is gone (a killed build
 * leaves its build VM's disk there, gigabytes). They are homelab's own: each was created empty by
 * the attempt that used it. Directories of a live process (a concurrent build) stay.
 */
export async function sweepDeadAttempts(buildDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(buildDir).catch(() => [] as string[])) {
    const pid = Number(ATTEMPT.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processExists(pid)) continue;
    // A direct child by its name's pattern; a symlink planted under such a name is not ours.
    const path = join(buildDir, name);
    if (!(await lstat(path)).isDirectory()) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

async function readRecordLoosely(dir: string): Promise<Partial<BuildRecord> | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, RECORD_FILE), "utf8")) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as Partial<BuildRecord>) : undefined;
  } catch {
    return undefined;
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== "ENOENT") throw err;
}
