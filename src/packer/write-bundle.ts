import { randomBytes } from "node:crypto";
import { chmod, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { JobError } from "../errors.js";
import type { RenderedBundle } from "./render-bundle.js";

/**
 * Writes a rendered bundle to `outDir` atomically: everything goes into a hidden sibling
 * directory first, which is renamed into place only when complete. A failure (or a kill)
 * leaves the previous bundle, if any, untouched, and never a half-written one.
 */
export async function writeBundle(rendered: RenderedBundle, outDir: string): Promise<void> {
  const target = resolve(outDir);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  const staging = join(parent, `.${basename(target)}.tmp-${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(staging);
    for (const [path, file] of rendered.files) {
      const dest = join(staging, path);
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(dest, file.content);
      await chmod(dest, file.mode);
    }
    await replaceDirectory(staging, target);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw new JobError(`could not write the bundle to ${outDir}: ${(err as Error).message}`, { cause: err });
  }
}

/** rename() cannot replace a non-empty directory, so the old one is moved aside first. */
async function replaceDirectory(staging: string, target: string): Promise<void> {
  const existing = await stat(target).catch(() => undefined);
  if (existing === undefined) {
    await rename(staging, target);
    return;
  }
  if (!existing.isDirectory()) throw new Error(`${target} exists and is not a directory`);
  const old = `${staging}.old`;
  await rename(target, old);
  try {
    await rename(staging, target);
  } catch (err) {
    await rename(old, target);
    throw err;
  }
  await rm(old, { recursive: true, force: true });
}
