import { lstat, readdir, rename, rm } from "node:fs/promises";
import { resolveInside } from "../fs/contain.js";

/** What withStagedDir (mkdtemp `.<final>.partial-XXXXXX`) leaves when its process is killed. */
const PARTIAL = /^\.boxes\.partial-[A-Za-z0-9]{6}$/;
const PREVIOUS = /^\.boxes\.partial-[A-Za-z0-9]{6}\.previous$/;

/**
 * Cleans a build directory after a build that was SIGKILLed: `.boxes.partial-*` staging
 * directories (half-written boxes) are removed. A `.previous` directory holds the last good
 * boxes while they are being replaced: it is put back when `boxes/` is missing (the kill came
 * between the two renames), else removed. Call it before a build starts; nothing else is
 * touched, and symlinks are never followed. Returns the names removed or restored.
 */
export async function sweepPartialBoxes(buildDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(buildDir);
  } catch {
    return [];
  }
  const done: string[] = [];
  const isDir = async (path: string): Promise<boolean> => (await lstat(path).catch(() => undefined))?.isDirectory() ?? false;
  const boxes = resolveInside(buildDir, "boxes");
  for (const name of names.filter((n) => PREVIOUS.test(n)).sort()) {
    const path = resolveInside(buildDir, name);
    if (!(await isDir(path))) continue;
    if (!(await lstat(boxes).then(() => true, () => false))) await rename(path, boxes);
    else await rm(path, { recursive: true, force: true });
    done.push(name);
  }
  for (const name of names.filter((n) => PARTIAL.test(n))) {
    const path = resolveInside(buildDir, name);
    if (!(await isDir(path))) continue;
    await rm(path, { recursive: true, force: true });
    done.push(name);
  }
  return done;
}
