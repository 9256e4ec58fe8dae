import type { Config } from "../config/schema.js";
import { InputError } from "../errors.js";
import { PackerBundle } from "../bundle/bundle.js";
import { packagedAssets } from "./assets.js";
import type { ContributeContext, Contributor } from "./contributor.js";

/** The Packer build's name; Packer prefixes builder names with it (`homelab.qemu.alpine`). */
export const BUILD_NAME = "homelab";

/**
 * Runs contributors in order over a fresh bundle. Orders must be unique: a tie would make the
 * result depend on registration order, which is exactly what explicit orders exist to prevent.
 */
export function buildBundle(
  config: Config,
  contributors: readonly Contributor[],
  context: ContributeContext = packagedAssets,
): PackerBundle {
  const sorted = sortContributors(contributors);
  const bundle = new PackerBundle(BUILD_NAME);
  for (const contributor of sorted) {
    if (!contributor.appliesTo(config)) continue;
    try {
      contributor.contribute(bundle, config, context);
    } catch (err) {
      throw new Error(`contributor ${contributor.name} (order ${contributor.order}) failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return bundle;
}

export function sortContributors(contributors: readonly Contributor[]): Contributor[] {
  const byOrder = new Map<number, Contributor>();
  const names = new Set<string>();
  for (const c of contributors) {
    if (!Number.isInteger(c.order)) throw new InputError(`contributor ${c.name}: order must be a whole number, got ${c.order}`);
    const clash = byOrder.get(c.order);
    if (clash) {
      throw new InputError(`contributors ${clash.name} and ${c.name} both have order ${c.order}: give each its own order`);
    }
    if (names.has(c.name)) throw new InputError(`two contributors are named ${c.name}`);
    byOrder.set(c.order, c);
    names.add(c.name);
  }
  return [...contributors].sort((a, b) => a.order - b.order);
}
