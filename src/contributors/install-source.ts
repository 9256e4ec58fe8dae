import type { Config } from "../config/schema.js";
import type { CommonSourceOptions, PackerBundle, QemuSourceOptions } from "../packer/bundle.js";
import type { ContributeContext } from "./contributor.js";

/**
 * Where the build VM's first disk comes from: an OS installer ISO driven by a boot command, or
 * an existing image. It declares its own variables and http/ files, and gives the builder
 * options that differ between sources; base-os adds everything they have in common.
 */
export interface InstallSource {
  /** Declares variables and adds http/ files. */
  prepare(bundle: PackerBundle, config: Config, context: ContributeContext): void;
  /** Options for every builder (ISO or image URL, checksum, boot command). */
  options(config: Config): Partial<CommonSourceOptions>;
  /** Extra options for the qemu builder only. */
  qemuOptions?(config: Config): Partial<QemuSourceOptions>;
}
