import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { JobError } from "../errors.js";
import type { RenderedBundle } from "./render-bundle.js";
import { withStagedDir } from "./staged-output.js";

/**
 * Writes a rendered bundle to `outDir` atomically: everything goes into a staging directory
 * beside it, which replaces `outDir` only when complete. A failure (or a kill) leaves the
 * previous bundle, if any, untouched, and never a half-written one.
 */
export async function writeBundle(rendered: RenderedBundle, outDir: string): Promise<void> {
  const target = resolve(outDir);
  try {
    await mkdir(dirname(target), { recursive: true });
    await withStagedDir(target, async (staging) => {
      for (const [path, file] of rendered.files) {
        const dest = join(staging, path);
        await mkdir(dirname(dest), { recursive: true });
        await writeFile(dest, file.content);
        await chmod(dest, file.mode);
      }
    });
  } catch (err) {
    throw new JobError(`could not write the bundle to ${outDir}: ${(err as Error).message}`, { cause: err });
  }
}
