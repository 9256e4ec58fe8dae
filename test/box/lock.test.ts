import { execFileSync } from "node:child_process";
import { mkdtempSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STALE_LOCK_MS, withLock } from "../../src/box/lock.js";

/** The pid of a process that has already exited. */
function deadPid(): number {
  return Number(execFileSync("sh", ["-c", "sh -c 'echo $$' "], { encoding: "utf8" }).trim());
}

describe("per-box lock", () => {
  it("takes over a lock left by a process that died holding it", async () => {
    const lock = join(mkdtempSync(join(tmpdir(), "homelab-lock-")), ".lock");
    writeFileSync(lock, `${deadPid()}\n`);
    const old = (Date.now() - STALE_LOCK_MS - 5_000) / 1000;
    utimesSync(lock, old, old);
    expect(await withLock(lock, async () => "ran", 2_000)).toBe("ran");
    expect(existsSync(lock)).toBe(false);
  });

  it("does not steal a fresh lock even when the pid it read is gone (release-and-exit race)", async () => {
    // What a waiter sees when an owner released, exited, and another process just re-locked:
    // a fresh file. Judging by the dead pid alone would delete a live lock.
    const lock = join(mkdtempSync(join(tmpdir(), "homelab-lock-")), ".lock");
    writeFileSync(lock, `${deadPid()}\n`);
    await expect(withLock(lock, async () => "ran", 300)).rejects.toThrow(/still locked/);
    expect(existsSync(lock)).toBe(true);
  });

  it("never takes a lock whose owner is alive, however old", async () => {
    const lock = join(mkdtempSync(join(tmpdir(), "homelab-lock-")), ".lock");
    writeFileSync(lock, `${process.pid}\n`);
    const old = (Date.now() - 3_600_000) / 1000;
    utimesSync(lock, old, old);
    await expect(withLock(lock, async () => "ran", 300)).rejects.toThrow(/still locked/);
  });

  it("serialises writers: 30 concurrent critical sections never overlap", async () => {
    const lock = join(mkdtempSync(join(tmpdir(), "homelab-lock-")), ".lock");
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 30 }, () =>
        withLock(lock, async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 2));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
