import { parseVersion } from "../box/names.js";
import { InputError } from "../errors.js";

/**
 * `homelab build`'s flags and their checks, apart from the command, so that the command (build.ts)
 * and its run (build-run.ts) both read them without importing each other.
 */

export const ACCELERATORS = ["auto", "kvm", "tcg", "hvf"] as const;

export interface BuildFlags {
  config?: string;
  default?: boolean;
  only?: string;
  parallel?: number;
  force?: boolean;
  accel: string;
  compressionLevel?: number;
  workDir?: string;
  json?: boolean;
  publish?: boolean;
  registry?: string;
  boxVersion?: string;
  token?: string;
  versionCheck: boolean;
}

/** Flag checks that need no config and no Packer: a mistake here costs no minutes. */
export function validateFlags(opts: BuildFlags, platform: NodeJS.Platform = process.platform): BuildFlags {
  if (!(ACCELERATORS as readonly string[]).includes(opts.accel)) {
    throw new InputError(`--accel: expected one of ${ACCELERATORS.join(", ")}, got ${JSON.stringify(opts.accel)}`);
  }
  if (opts.accel === "hvf" && platform !== "darwin") {
    throw new InputError(`--accel hvf: Hypervisor.framework exists only on macOS; on ${platform} use kvm, tcg, or auto (tries KVM, falls back to TCG)`);
  }
  if (opts.compressionLevel !== undefined && opts.compressionLevel > 9) {
    throw new InputError(`--compression-level: expected 1 to 9, got ${opts.compressionLevel}`);
  }
  if (!opts.publish && (opts.registry !== undefined || opts.boxVersion !== undefined || opts.token !== undefined)) {
    throw new InputError("--registry, --box-version and --token only make sense with --publish");
  }
  // The registry's own rule, checked now rather than after the build.
  if (opts.boxVersion !== undefined) parseVersion(opts.boxVersion, "--box-version");
  return opts;
}
