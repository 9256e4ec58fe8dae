import { HomelabError, JobError } from "../errors.js";
import { replaceOwnedFiles } from "../fs/owned-dir.js";
import { VERSION } from "../version.js";
import type { RenderedBundle } from "./render-bundle.js";

/** The file that marks a directory as a bundle homelab wrote, listing the files it wrote. */
export const BUNDLE_MARKER = ".homelab-bundle";

/**
 * Writes a rendered bundle into `outDir`, which must be missing, empty, or a bundle homelab wrote
 * before (it carries BUNDLE_MARKER). Only homelab's own files are replaced: Packer's output/,
 * output-vm/ and packer_cache/, a user's notes or .git stay. Everything is staged first, so a
 * failure leaves the previous bundle untouched and never a half-written one (see owned-dir.ts).
 */
export async function writeBundle(rendered: RenderedBundle, outDir: string): Promise<void> {
  try {
    await replaceOwnedFiles(outDir, rendered.files, { markerName: BUNDLE_MARKER, version: VERSION });
  } catch (err) {
    if (err instanceof HomelabError) throw err;
    throw new JobError(`could not write the bundle to ${outDir}: ${(err as Error).message}`, { cause: err });
  }
}
