import type { ContributeContext } from "../contributors/contributor.js";
import type { CommonSourceOptions, PackerBundle, QemuSourceOptions } from "../bundle/bundle.js";

/**
 * Where the build VM's first disk comes from: an OS installer ISO driven by a boot command, or
 * an existing image. It declares its own variables and http/ files, and gives the builder
 * options that differ between sources; base-os adds everything they have in common.
 */
export interface InstallSource {
  /** Declares variables and adds http/ files. */
  prepare(bundle: PackerBundle, context: ContributeContext): void;
  /** Options for every builder (ISO or image URL, checksum, boot command). */
  options(): Partial<CommonSourceOptions>;
  /** Extra options for the qemu builder only. */
  qemuOptions?(): Partial<QemuSourceOptions>;
}
