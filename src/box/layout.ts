import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { CatalogProvider } from "./catalog.js";
import { processExists } from "./lock.js";

/**
 * File names in a registry directory, and how to tell ours from anything else:
 *
 *     <org>/<name>/catalog.json
 *     <org>/<name>/<version>/<provider>-<arch>-<sha256>.box     a box file, named by its content
 *     <org>/<name>/.catalog.json.<pid>.<hex>.tmp                a catalog being written
 *     <org>/<name>/.lock                                        the box's lock
 *     .incoming/<pid>.<start>.<hex>.part                        an upload being copied
 *
 * A box file is never rewritten: a force-replace writes a new file and switches the catalog to
 * it, so whatever a reader opened after reading the catalog has the bytes the catalog's checksum
 * (and so the ETag) names. Registries written before that keep `<provider>-<arch>.box` (legacy)
 * until the version is replaced.
 */
export const CATALOG = "catalog.json";
export const LOCK = ".lock";
export const INCOMING = ".incoming";

/** Any box file we write (addressed or legacy); nothing else in a version directory is ever removed. */
export const BOX_FILE = /^[a-z][a-z0-9_-]{0,31}-(?:amd64|arm64|i386|arm|unknown)(?:-[0-9a-f]{64})?\.box$/;
/** What writeFileAtomic leaves beside catalog.json when it is killed between create and rename. */
export const TEMP_CATALOG = /^\.catalog\.json\.\d+\.[0-9a-f]+\.tmp$/;
/** Upload files: `<pid>.<start>.<hex>.part`, and the older `<pid>.<hex>.part`. */
const PART = /^(\d+)\.(?:(\d+)\.)?([0-9a-f]{16})\.part$/;

/** `<version>/<provider>-<arch>-<sha256>.box`: where a new box file goes, relative to the box directory. */
export function boxFile(version: string, provider: string, architecture: string, checksum: string): string {
  return `${version}/${provider}-${architecture}-${checksum}.box`;
}

/**
 * The file of a catalog entry, relative to the box directory, built from the entry's validated
 * fields (never from its `url` text, which only selects between the two layouts); undefined
 * when the url is neither, e.g. a hand-edited catalog.
 */
export function entryFile(version: string, p: CatalogProvider): string | undefined {
  const addressed = boxFile(version, p.name, p.architecture, p.checksum);
  const legacy = `${version}/${p.name}-${p.architecture}.box`;
  return p.url === addressed ? addressed : p.url === legacy ? legacy : undefined;
}

/** Upload files this process is writing right now (any store instance). */
const ours = new Set<string>();

/** A fresh upload file name, registered as in flight until `releasePart`. */
export function newPartName(): string {
  const name = `${process.pid}.${processStart(process.pid) ?? 0}.${randomBytes(8).toString("hex")}.part`;
  ours.add(name);
  return name;
}

export function releasePart(name: string): void {
  ours.delete(name);
}

/**
 * Whether an upload file was left by a writer that is gone. The pid alone does not tell: a
 * server restarted as PID 1 in a container has the pid of the one that was killed, and pids are
 * reused. So a file with our pid is stale unless this very process registered it, and a file
 * with a live pid is stale when that process started at another time than the file says.
 * A name that is not ours is never judged stale (nothing we did not write is removed).
 */
export function isStalePart(name: string): boolean {
  const m = PART.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return !ours.has(name);
  if (!processExists(pid)) return true;
  if (m[2] === undefined) return false;
  const start = processStart(pid);
  return start !== undefined && start !== Number(m[2]);
}

export function isPartName(name: string): boolean {
  return PART.test(name);
}

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22), when /proc says. */
function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]);
    return Number.isInteger(start) ? start : undefined;
  } catch {
    return undefined;
  }
}
