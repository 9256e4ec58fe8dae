import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";

/**
 * A user's file planted outside the directory a test works in, to prove homelab never read,
 * wrote or removed it. Reads are caught by the access time: it is set far before the
 * modification time, and under relatime (and strictatime) the kernel then updates it on the next
 * read. `readsAreVisible()` checks that on a canary first, so a noatime mount fails loudly
 * instead of proving nothing.
 */
export class Sentinel {
  readonly dir: string;
  readonly path: string;
  private readonly content: string;
  private readonly mtimeMs: number;
  private readonly atimeMs: number;

  private constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, "users-file.txt");
    this.content = `a user's file, not homelab's: ${randomBytes(8).toString("hex")}\n`;
    writeFileSync(this.path, this.content, { mode: 0o644 });
    // Whole seconds, so that restoring them after a check gives the very same values.
    utimesSync(this.path, new Date("2001-01-01T00:00:00Z"), new Date(Math.floor(Date.now() / 1000) * 1000));
    const st = statSync(this.path);
    this.mtimeMs = st.mtimeMs;
    this.atimeMs = st.atimeMs;
  }

  /** Plants a sentinel in a fresh directory of its own (outside any test's working root). */
  static plant(): Sentinel {
    return new Sentinel(mkdtempSync(join(tmpdir(), "homelab-sentinel-")));
  }

  /** Whether a read moves the access time on this file system (checked on a canary). */
  static readsAreVisible(): boolean {
    const canary = Sentinel.plant();
    try {
      readFileSync(canary.path);
      return statSync(canary.path).atimeMs !== canary.atimeMs;
    } finally {
      canary.remove();
    }
  }

  /** Asserts the file is still there, unchanged, and unread. */
  expectUntouched(): void {
    const st = statSync(this.path, { throwIfNoEntry: false });
    expect(st, `${this.path} was removed`).toBeDefined();
    expect(st!.mtimeMs, `${this.path} was written`).toBe(this.mtimeMs);
    expect(st!.atimeMs, `${this.path} was read`).toBe(this.atimeMs);
    // Reading it here moves the atime, so this comes last.
    expect(readFileSync(this.path, "utf8")).toBe(this.content);
    utimesSync(this.path, new Date(this.atimeMs), new Date(this.mtimeMs));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
