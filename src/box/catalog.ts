import { JobError } from "../errors.js";
import { isArchitecture, isProvider, isVersion, type Architecture } from "./names.js";
import { compareVersions } from "../semver.js";

/**
 * A box's catalog in Vagrant's format (what `vagrant box add URL` reads). On disk `url` is
 * relative to the catalog file; the server rewrites it to an absolute URL for the host asked.
 * `size` is ours (Vagrant ignores keys it does not know) and feeds `homelab box list`.
 */
export interface CatalogProvider {
  name: string;
  url: string;
  checksum_type: "sha256";
  checksum: string;
  architecture: Architecture;
  default_architecture: boolean;
  size: number;
}

/**
 * A version's release state (Vagrant Cloud's words). Absent means active: catalogs written
 * before release states existed stay readable and every version in them stays published.
 */
export type VersionStatus = "unreleased" | "active" | "revoked";
export const VERSION_STATUSES: readonly VersionStatus[] = ["unreleased", "active", "revoked"];

/**
 * A provider announced through Vagrant's API (`POST .../providers`) whose box file has not been
 * uploaded yet. Kept in the stored record (not in memory) so the upload may reach any server.
 */
export interface PendingProvider {
  name: string;
  /** Absent: whatever the uploaded box's metadata.json says (Vagrant's v1 API names no architecture). */
  architecture?: Architecture;
  /** What the client promised the upload hashes to (`vagrant cloud publish --checksum`). */
  checksum_type?: string;
  checksum?: string;
  created_at: string;
}

export interface CatalogVersion {
  version: string;
  providers: CatalogProvider[];
  /** Absent = active (old catalogs). Only active versions are in the catalog Vagrant reads. */
  status?: VersionStatus;
  description?: string;
  /** Why a revoked version was revoked; told to anyone who asks for it. */
  revoked_reason?: string;
  pending_providers?: PendingProvider[];
  /** ISO 8601; Vagrant's API client treats a record without one as not yet saved. */
  created_at?: string;
  updated_at?: string;
}

export interface Catalog {
  name: string;
  description: string;
  /** Vagrant Cloud's one-line summary (`vagrant cloud publish --short-description`). */
  short_description?: string;
  /** Set when the box was created on its own (Vagrant's API) rather than by its first upload. */
  created_at?: string;
  updated_at?: string;
  versions: CatalogVersion[];
}

export function versionStatus(v: CatalogVersion): VersionStatus {
  return v.status ?? "active";
}

/**
 * The catalog a Vagrant client downloads: only active versions that have at least one box file,
 * and none of our bookkeeping (release state, pending uploads). Unreleased and revoked versions
 * are for the box's owners (Vagrant's API, `homelab box list`), not for `vagrant box add`.
 */
export function vagrantCatalog(catalog: Catalog): Catalog {
  return {
    name: catalog.name,
    description: catalog.description,
    versions: catalog.versions
      .filter((v) => versionStatus(v) === "active" && v.providers.length > 0)
      .map((v) => ({ version: v.version, ...(v.description ? { description: v.description } : {}), providers: v.providers })),
  };
}

export function emptyCatalog(name: string): Catalog {
  return { name, description: "", versions: [] };
}

/** Parses a stored catalog; a corrupt one is a job failure naming the file (never silently replaced). */
export function parseCatalog(text: string, file: string): Catalog {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new JobError(`${file}: the catalog is not valid JSON (${(err as Error).message})`);
  }
  const bad = (why: string): JobError => new JobError(`${file}: invalid catalog: ${why}`);
  if (typeof raw !== "object" || raw === null) throw bad("expected a JSON object");
  const c = raw as Record<string, unknown>;
  if (typeof c.name !== "string") throw bad('"name" must be a string');
  if (!Array.isArray(c.versions)) throw bad('"versions" must be an array');
  const versions = c.versions.map((v: unknown, i): CatalogVersion => {
    const vv = v as Record<string, unknown>;
    if (typeof vv?.version !== "string" || !isVersion(vv.version)) throw bad(`versions[${i}].version must be X.Y.Z`);
    if (!Array.isArray(vv.providers)) throw bad(`versions[${i}].providers must be an array`);
    const providers = vv.providers.map((p: unknown, j): CatalogProvider => {
      const pp = p as Record<string, unknown>;
      const at = `versions[${i}].providers[${j}]`;
      if (typeof pp?.name !== "string" || !isProvider(pp.name)) throw bad(`${at}.name must be a provider name`);
      if (typeof pp.url !== "string") throw bad(`${at}.url must be a string`);
      if (typeof pp.checksum !== "string" || !/^[0-9a-f]{64}$/.test(pp.checksum)) throw bad(`${at}.checksum must be a sha256`);
      if (typeof pp.architecture !== "string" || !isArchitecture(pp.architecture)) throw bad(`${at}.architecture is not known`);
      return {
        name: pp.name,
        url: pp.url,
        checksum_type: "sha256",
        checksum: pp.checksum,
        architecture: pp.architecture,
        default_architecture: pp.default_architecture === true,
        size: typeof pp.size === "number" ? pp.size : 0,
      };
    });
    const out: CatalogVersion = { version: vv.version, providers };
    if (vv.status !== undefined) {
      if (typeof vv.status !== "string" || !(VERSION_STATUSES as readonly string[]).includes(vv.status)) throw bad(`versions[${i}].status must be one of ${VERSION_STATUSES.join(", ")}`);
      out.status = vv.status as VersionStatus;
    }
    if (typeof vv.description === "string") out.description = vv.description;
    if (typeof vv.revoked_reason === "string") out.revoked_reason = vv.revoked_reason;
    if (typeof vv.created_at === "string") out.created_at = vv.created_at;
    if (typeof vv.updated_at === "string") out.updated_at = vv.updated_at;
    if (vv.pending_providers !== undefined) {
      if (!Array.isArray(vv.pending_providers)) throw bad(`versions[${i}].pending_providers must be an array`);
      out.pending_providers = vv.pending_providers.map((p: unknown, j): PendingProvider => {
        const pp = p as Record<string, unknown>;
        const at = `versions[${i}].pending_providers[${j}]`;
        if (typeof pp?.name !== "string" || !isProvider(pp.name)) throw bad(`${at}.name must be a provider name`);
        if (pp.architecture !== undefined && (typeof pp.architecture !== "string" || !isArchitecture(pp.architecture))) throw bad(`${at}.architecture is not known`);
        return {
          name: pp.name,
          ...(pp.architecture === undefined ? {} : { architecture: pp.architecture as Architecture }),
          ...(typeof pp.checksum_type === "string" ? { checksum_type: pp.checksum_type } : {}),
          ...(typeof pp.checksum === "string" ? { checksum: pp.checksum } : {}),
          created_at: typeof pp.created_at === "string" ? pp.created_at : "",
        };
      });
    }
    return out;
  });
  const out: Catalog = { name: c.name, description: typeof c.description === "string" ? c.description : "", versions };
  if (typeof c.short_description === "string") out.short_description = c.short_description;
  if (typeof c.created_at === "string") out.created_at = c.created_at;
  if (typeof c.updated_at === "string") out.updated_at = c.updated_at;
  return out;
}

export function findProvider(catalog: Catalog, version: string, provider: string, architecture: string): CatalogProvider | undefined {
  return catalog.versions.find((v) => v.version === version)?.providers.find((p) => p.name === provider && p.architecture === architecture);
}

/**
 * Adds (or replaces) one provider entry and returns the new catalog, sorted. The first
 * architecture published for a provider in a version is its default unless `makeDefault` says
 * otherwise; making one the default clears the flag on its siblings.
 */
export function upsertProvider(catalog: Catalog, version: string, entry: Omit<CatalogProvider, "default_architecture">, makeDefault?: boolean): Catalog {
  const versions = catalog.versions.map((v) => ({ ...v, providers: v.providers.map((p) => ({ ...p })) }));
  let v = versions.find((x) => x.version === version);
  if (!v) versions.push((v = { version, providers: [] }));
  const siblings = v.providers.filter((p) => p.name === entry.name && p.architecture !== entry.architecture);
  const previous = v.providers.find((p) => p.name === entry.name && p.architecture === entry.architecture);
  const isDefault = makeDefault ?? (previous ? previous.default_architecture : !siblings.some((p) => p.default_architecture));
  if (isDefault) for (const s of siblings) s.default_architecture = false;
  const added: CatalogProvider = {
    name: entry.name,
    url: entry.url,
    checksum_type: "sha256",
    checksum: entry.checksum,
    architecture: entry.architecture,
    default_architecture: isDefault,
    size: entry.size,
  };
  v.providers = [...v.providers.filter((p) => p !== previous), added];
  // The upload a provider was announced for has arrived: it is no longer pending.
  if (v.pending_providers) {
    const left = v.pending_providers.filter((p) => !(p.name === entry.name && (p.architecture === undefined || p.architecture === entry.architecture)));
    if (left.length > 0) v.pending_providers = left;
    else delete v.pending_providers;
  }
  return sortCatalog({ ...catalog, versions });
}

/** Removes matching entries (a whole version when `provider` is undefined); returns the new catalog and what was removed. */
export function removeProviders(
  catalog: Catalog,
  version: string,
  provider?: string,
  architecture?: string,
): { catalog: Catalog; removed: CatalogProvider[] } {
  const removed: CatalogProvider[] = [];
  const versions: CatalogVersion[] = [];
  for (const v of catalog.versions) {
    if (v.version !== version) {
      versions.push(v);
      continue;
    }
    const keep = v.providers.filter((p) => {
      const match = (provider === undefined || p.name === provider) && (architecture === undefined || p.architecture === architecture);
      if (match) removed.push(p);
      return !match;
    });
    // A provider that lost its default architecture gets a new one, so old clients still find it.
    for (const name of new Set(keep.map((p) => p.name))) {
      const same = keep.filter((p) => p.name === name);
      if (!same.some((p) => p.default_architecture) && same[0]) same[0].default_architecture = true;
    }
    // A version created on its own (Vagrant's API) outlives its last provider; only deleting
    // the version itself removes it. One that came with its first upload goes with its last.
    if (keep.length > 0 || (provider !== undefined && v.created_at !== undefined)) versions.push({ ...v, providers: keep });
  }
  return { catalog: sortCatalog({ ...catalog, versions }), removed };
}

/**
 * Versions ascending (semantic, not lexical), providers by name. Within a provider the default
 * architecture comes LAST: Vagrant 2.3 predates architectures and keeps the last entry of a
 * provider name (it builds a Hash from the list), so the default must be the one it keeps.
 */
export function sortCatalog(catalog: Catalog): Catalog {
  const versions = [...catalog.versions]
    .sort((a, b) => compareVersions(a.version, b.version))
    .map((v) => ({
      ...v,
      providers: [...v.providers].sort(
        (a, b) =>
          a.name.localeCompare(b.name) ||
          Number(a.default_architecture) - Number(b.default_architecture) ||
          a.architecture.localeCompare(b.architecture),
      ),
    }));
  return { ...catalog, versions };
}

export function serializeCatalog(catalog: Catalog): string {
  return `${JSON.stringify(catalog, null, 2)}\n`;
}
