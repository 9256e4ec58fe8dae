import type { VersionChange } from "./backend.js";
import { versionStatus, type CatalogVersion } from "./catalog.js";
import { ConflictError } from "./store.js";

/**
 * The release rules, shared by Vagrant's API and `homelab box release|revoke`: a version is
 * released once it has a box (unreleased or revoked → active); only a released version can be
 * revoked, and a revoke keeps its reason until the version is released again. `what` names the
 * version in messages; a refusal is a ConflictError.
 */
export function releaseChange(v: CatalogVersion, what: string): VersionChange {
  // Packer's post-processor recognises "already been released" and carries on.
  if (versionStatus(v) === "active") throw new ConflictError(`${what} has already been released`);
  if (v.providers.length === 0) throw new ConflictError(`${what} has no uploaded box yet; upload one before releasing it`);
  return { status: "active", revoked_reason: null };
}

export function revokeChange(v: CatalogVersion, what: string, reason: string | undefined): VersionChange {
  const now = versionStatus(v);
  if (now !== "active") throw new ConflictError(`${what} is ${now}, not released, so it cannot be revoked`);
  return { status: "revoked", revoked_reason: reason?.trim() || null };
}
