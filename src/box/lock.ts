import { open, readFile, stat, unlink } from "node:fs/promises";
import { JobError } from "../errors.js";

/**
 * A per-box lock shared by every process using the store (the server and `homelab box publish
 * --registry DIR` may write at once): a lock file created with O_EXCL holding the owner's pid.
 * It is held only for the short catalog update, never while a box is copied, so a lock left by
 * a killed process is rare; it is taken over when its pid no longer exists AND it is older than
 * any real hold (see breakIfStale).
 */
export async function withLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    try {
      const fh = await open(lockFile, "wx", 0o644);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } catch (err) {
        // A full disk: do not leave an empty lock behind for every later writer to wait on.
        await fh.close();
        await unlink(lockFile).catch(() => {});
        throw err;
      }
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (await breakIfStale(lockFile)) continue;
      if (Date.now() > deadline) {
        throw new JobError(`${lockFile}: still locked after ${timeoutMs / 1000} s (another publish is running; remove the file if its process is gone)`);
      }
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      delay = Math.min(delay * 2, 50);
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lockFile).catch(() => {});
  }
}

/** Held locks live for milliseconds; one this old whose owner is gone was left by a crash. */
export const STALE_LOCK_MS = 10_000;

/**
 * Removes the lock file if it was left by a process that died holding it. A dead pid alone is
 * not enough: a waiter may read the pid of an owner that then releases the lock and exits, while
 * a third process takes a fresh lock at the same path; unlinking on the dead pid would delete
 * that live lock and let two writers into the catalog. So the file must also be old, and the
 * path must still name the very file that was judged (same inode) when it is unlinked.
 * Returns whether the caller should retry at once.
 */
async function breakIfStale(lockFile: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(lockFile, "r");
  } catch {
    return true; // released meanwhile: retry
  }
  try {
    const judged = await fh.stat();
    if (Date.now() - judged.mtimeMs < STALE_LOCK_MS) return false;
    const pid = Number((await fh.readFile("utf8")).trim());
    // An old file with no valid pid was left by a crash between create and write.
    if (Number.isInteger(pid) && pid > 0 && processExists(pid)) return false;
    const current = await stat(lockFile).catch(() => undefined);
    if (current === undefined) return true;
    if (current.ino !== judged.ino || current.dev !== judged.dev) return true;
    await unlink(lockFile).catch(() => {});
    return true;
  } finally {
    await fh.close();
  }
}

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether a lock file's owner is gone (its pid is dead or unreadable): fsck reports such a lock. */
export async function lockOwnerGone(lockFile: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(lockFile, "utf8");
  } catch {
    return false; // released meanwhile
  }
  const pid = Number(text.trim());
  return !(Number.isInteger(pid) && pid > 0 && processExists(pid));
}
