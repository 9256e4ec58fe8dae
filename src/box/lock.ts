import { open, readFile, unlink } from "node:fs/promises";
import { JobError } from "../errors.js";

/**
 * A per-box lock shared by every process using the store (the server and `homelab box publish
 * --registry DIR` may write at once): a lock file created with O_EXCL holding the owner's pid.
 * It is held only for the short catalog update, never while a box is copied, so a lock left by
 * a killed process is rare; it is taken over when its pid no longer exists.
 */
export async function withLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    try {
      const fh = await open(lockFile, "wx", 0o644);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (await ownerIsGone(lockFile)) {
        await unlink(lockFile).catch(() => {});
        continue;
      }
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

async function ownerIsGone(lockFile: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(lockFile, "utf8");
  } catch {
    return false; // released meanwhile: just retry
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return false; // being written right now
  return !processExists(pid);
}

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
