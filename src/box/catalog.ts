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

export interface CatalogVersion {
  version: string;
  providers: CatalogProvider[];
}

export interface Catalog {
  name: string;
  description: string;
  versions: CatalogVersion[];
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
    return { version: vv.version, providers };
  });
  return { name: c.name, description: typeof c.description === "string" ? c.description : "", versions };
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
  return sortCatalog({ ...catalog, versions });
}

/** Removes matching entries; returns the new catalog and what was removed. */
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
    if (keep.length > 0) versions.push({ ...v, providers: keep });
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
