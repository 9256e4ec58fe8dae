import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

/**
 * Shared by the adversarial suites: a sentinel planted outside the registry root that proves
 * nothing was read (its atime, set three days back, moves on any read under relatime),
 * written, replaced or removed; and a tally of attacks tried and held per area, printed as
 * `adversarial: <area> <tried> <held>` for the closing note.
 */
export interface Sentinel {
  readonly dir: string;
  readonly content: string;
  /** Fails the test when the sentinel directory changed or its file was read. */
  assertUntouched(): void;
}

export function plantSentinel(dir: string): Sentinel {
  mkdirSync(dir, { recursive: true });
  const content = `sentinel-${Math.random().toString(36).slice(2)}-outside-the-root`;
  const file = join(dir, "sentinel");
  writeFileSync(file, content);
  const past = Date.now() / 1000 - 3 * 86400;
  utimesSync(file, past, past);
  const before = statSync(file);
  return {
    dir,
    content,
    assertUntouched() {
      expect(readdirSync(dir)).toEqual(["sentinel"]);
      const now = statSync(file);
      expect({ ino: now.ino, size: now.size, mtime: now.mtimeMs, atime: now.atimeMs }).toEqual({ ino: before.ino, size: before.size, mtime: before.mtimeMs, atime: before.atimeMs });
      // Reading it for this check would move its atime: compare last, then restore.
      expect(readFileSync(file, "utf8")).toBe(content);
      utimesSync(file, before.atime, before.mtime);
    },
  };
}

export class Tally {
  private readonly areas = new Map<string, { tried: number; held: number }>();
  /** Records one attack; `held` is whether the registry withstood it. Returns `held`. */
  record(area: string, held: boolean): boolean {
    const a = this.areas.get(area) ?? { tried: 0, held: 0 };
    a.tried++;
    if (held) a.held++;
    this.areas.set(area, a);
    return held;
  }
  print(): void {
    for (const [area, { tried, held }] of this.areas) console.log(`adversarial: ${area} ${tried} ${held}`);
  }
  get(area: string): { tried: number; held: number } {
    return this.areas.get(area) ?? { tried: 0, held: 0 };
  }
}

export const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/**
 * Mounts a tmpfs of `size` (e.g. "8m") on `dir` for the full-disk tests. Needs root; when it
 * cannot mount, returns false on a developer's machine and throws under CI=true (a full-disk
 * test must not skip silently in CI), like needTool.
 */
export function mountTmpfs(dir: string, size: string, extra = ""): boolean {
  mkdirSync(dir, { recursive: true });
  // Not root: through `sudo -n` (the suite's README asks for it), owned by this user.
  const root = process.getuid?.() === 0;
  const owner = root ? "" : `,uid=${process.getuid?.()},gid=${process.getgid?.()}`;
  const args = ["mount", "-t", "tmpfs", "-o", `size=${size}${owner}${extra ? `,${extra}` : ""}`, "tmpfs", dir];
  try {
    if (root) execFileSync(args[0]!, args.slice(1), { stdio: "pipe" });
    else execFileSync("sudo", ["-n", ...args], { stdio: "pipe" });
    return true;
  } catch (err) {
    if (process.env.CI === "true") throw new Error(`cannot mount a tmpfs on ${dir} (CI=true: the full-disk tests may not skip): ${(err as Error).message}`);
    return false;
  }
}

export function unmount(dir: string): void {
  try {
    if (process.getuid?.() === 0) execFileSync("umount", ["-l", dir], { stdio: "pipe" });
    else execFileSync("sudo", ["-n", "umount", "-l", dir], { stdio: "pipe" });
  } catch {
    /* not mounted */
  }
}
