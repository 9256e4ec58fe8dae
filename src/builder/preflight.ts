import { stat } from "node:fs/promises";
import { isVersion } from "../box/names.js";
import { configProblem } from "../config/config-problem.js";
import type { Config } from "../config/schema.js";
import { hashFile } from "./record.js";

/**
 * Checks that need no Packer and take seconds, run before a build that takes minutes: a problem
 * found here is bad input (exit 2), reported at its line in the config, instead of an error
 * Packer prints after it has started a VM, or a box the registry refuses at the very end.
 */

/** The box version must be one the box registry accepts (its rule, not a copy of it). */
export async function checkBoxVersion(config: Config, origin: string): Promise<void> {
  if (isVersion(config.box.version)) return;
  throw await configProblem(
    origin,
    ["box", "version"],
    `expected a version the box registry accepts: X.Y.Z, three whole numbers of at most 9 digits without leading zeros, got ${JSON.stringify(config.box.version)}`,
  );
}

export interface BaseImageCheck {
  /** Deadline of the reachability check of an image URL. Default 10 s. */
  timeoutMs?: number;
  /** Where to say that a URL could not be checked (the download is then left to Packer). */
  onNotice?: (line: string) => void;
}

/**
 * The bring-your-own base image exists and is the one the config vouches for. A local file is
 * hashed here (Packer would do the same, but only after it has prepared the build, and then
 * retries and fails with "error downloading ISO"); for a URL only a HEAD request is made: the
 * image is downloaded, and checked against the checksum, by Packer. A URL the server says does
 * not exist is bad input; a server that cannot be reached is left to Packer (it may be a
 * passing network problem) with a notice.
 */
export async function checkBaseImage(config: Config, origin: string, opts: BaseImageCheck = {}): Promise<void> {
  const base = config.base;
  if (base === undefined) return;
  if (/^https?:\/\//.test(base.image)) {
    let status: number;
    try {
      const res = await fetch(base.image, { method: "HEAD", redirect: "follow", signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000) });
      status = res.status;
    } catch (err) {
      const why = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      opts.onNotice?.(`could not check base.image ${base.image} (${why}); Packer will try to download it`);
      return;
    }
    if (status === 404 || status === 410 || status === 401 || status === 403) {
      throw await configProblem(origin, ["base", "image"], `expected an image the server has, got HTTP ${status} for ${base.image}`);
    }
    return;
  }
  const st = await stat(base.image).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) {
    const why = st.code === "ENOENT" ? "no such file" : st.code === "EACCES" ? "permission denied" : st.message;
    throw await configProblem(origin, ["base", "image"], `expected a readable qcow2 image, got ${base.image}: ${why}`);
  }
  if (!st.isFile()) throw await configProblem(origin, ["base", "image"], `expected a qcow2 image file, got ${base.image} (not a file)`);
  const { sha256 } = await hashFile(base.image);
  const expected = base.checksum.replace(/^sha256:/, "");
  if (sha256 !== expected) {
    throw await configProblem(
      origin,
      ["base", "checksum"],
      `expected the sha256 of ${base.image}, but the file's is sha256:${sha256} (the image changed, or the checksum is of another file)`,
    );
  }
}
