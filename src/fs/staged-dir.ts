import { mkdtemp, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `work` with a fresh staging directory beside `finalDir` (same filesystem, so the final
 * rename is atomic) and moves it into place only when `work` succeeds. On failure or cancellation
 * the staging directory is deleted and `finalDir` is left exactly as it was: nobody ever sees a
 * half-written box there.
 */
export async function withStagedDir<T>(finalDir: string, work: (stagingDir: string) => Promise<T>): Promise<T> {
  const staging = await mkdtemp(join(dirname(finalDir), `.${basename(finalDir)}.partial-`));
  let result: T;
  try {
    result = await work(staging);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  // rename() cannot replace a non-empty directory: move the old one aside first, then drop it.
  let previous: string | undefined;
  if (await exists(finalDir)) {
    previous = `${staging}.previous`;
    await rename(finalDir, previous);
  }
  try {
    await rename(staging, finalDir);
  } catch (err) {
    if (previous) await rename(previous, finalDir);
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  if (previous) await rm(previous, { recursive: true, force: true });
  return result;
}
