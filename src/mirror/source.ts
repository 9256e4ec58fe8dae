import { InputError } from "../errors.js";
import { isBoxName, isOrg, isVersion, normalizeArchitecture, type Architecture, type BoxRef } from "../box/names.js";
import { parseSourceChecksum, type SourceChecksum } from "./checksum.js";
import { parseHttpUrl, shown, SourceError, type SourceClient } from "./source-http.js";

/**
 * What `homelab box mirror SOURCE` can read, and how each becomes a list of files:
 *
 * - a Vagrant catalog URL (what `vagrant box add URL` reads: `{name, versions: [{version,
 *   status?, providers: [{name, url, checksum_type, checksum, architecture?,
 *   default_architecture?}]}]}`; lib/vagrant/box_metadata.rb);
 * - `org/box` on an HCP Vagrant (Vagrant Cloud) API host: `GET {api}/api/v2/box/{org}/{box}`,
 *   whose versions carry `status` and providers carry `download_url` (on the API host, which
 *   redirects to storage), `checksum`, `checksum_type`, `architecture`, `default_architecture`
 *   (website/content/vagrant-cloud/api/v2.mdx, "Read a box" and "Read a provider");
 * - `org`, a whole organisation: `GET {api}/api/v2/user/{org}` lists its `boxes`, each read
 *   again as a box (as the vagrant_cloud gem does: the listing need not carry every version).
 *
 * Descriptions come along (carried into the target by mirror.ts): a plain catalog's box and
 * version `description` (box_metadata.rb reads the box's); HCP's box `short_description` and
 * `description_markdown`, and each version's `description_markdown` (the vagrant_cloud gem 3.0
 * reads these fields: lib/vagrant_cloud/box.rb, box/version.rb; `description_html` is the
 * host's rendering of the Markdown and is not copied).
 *
 * Only released versions are copied: HCP's `status` is "active" for those; "unreleased" and
 * "revoked" ones are not in the catalog Vagrant reads, so a mirror does not publish them either.
 */
export type SourceSpec =
  | { readonly kind: "catalog"; readonly url: string }
  | { readonly kind: "box"; readonly api: string; readonly org: string; readonly name: string }
  | { readonly kind: "org"; readonly api: string; readonly org: string };

/** One file the source offers, with what it takes to copy it (or why it cannot be). */
export interface SourceFile {
  /** The box as the source names it (org/name), and its name in the target when that is valid there. */
  readonly name: string;
  readonly box: BoxRef | undefined;
  readonly version: string;
  readonly provider: string;
  /** Vagrant's name (amd64, arm64…); undefined when the source does not say (the box's metadata.json decides). */
  readonly architecture: Architecture | undefined;
  readonly defaultArchitecture: boolean;
  readonly url: string;
  readonly checksum: SourceChecksum | undefined;
  /** Set when this file cannot be copied (a version the registry cannot hold, no checksum…). */
  readonly problem?: string;
  /** The box's descriptions at the source (absent fields: the source has none). */
  readonly boxText: BoxText;
  /** The version's description at the source, when it has one. */
  readonly versionDescription?: string;
}

/** A box's free-text fields, as the registry stores them (catalog.ts). */
export interface BoxText {
  readonly description?: string;
  readonly short_description?: string;
}

/** Versions not copied on purpose (not released at the source). */
export interface SourceNote {
  readonly name: string;
  readonly version: string;
  readonly why: string;
}

/** A source (or one box of an organisation) that could not be read: nothing of it is copied. */
export interface SourceFailure {
  readonly source: string;
  readonly reason: string;
}

export interface ResolvedSources {
  readonly files: SourceFile[];
  readonly notes: SourceNote[];
  readonly failures: SourceFailure[];
}

/** A source argument: a URL is a catalog; `org/box` and `org` are names on the API host. */
export function parseSourceSpec(text: string, api: string): SourceSpec {
  if (/^https?:\/\//i.test(text)) {
    parseHttpUrl(text);
    return { kind: "catalog", url: text };
  }
  const parts = text.split("/");
  const ok = (s: string | undefined): s is string => s !== undefined && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(s) && !s.includes("..");
  if (parts.length === 2 && ok(parts[0]) && ok(parts[1])) return { kind: "box", api: apiBase(api), org: parts[0], name: parts[1] };
  if (parts.length === 1 && ok(parts[0])) return { kind: "org", api: apiBase(api), org: parts[0] };
  throw new InputError(`${JSON.stringify(text)}: expected a catalog URL (http[s]://…), org/box, or org`);
}

function apiBase(api: string): string {
  try {
    const url = parseHttpUrl(api);
    return url.href.replace(/\/+$/, "");
  } catch {
    throw new InputError(`${JSON.stringify(api)}: the API host must be an http(s) URL like https://vagrantcloud.com`);
  }
}

/**
 * Reads every source and lists its files. A source that cannot be read (404, not a catalog, a
 * host that keeps failing) is a failure of that source, not of the others; answers that may
 * pass (5xx, a cut connection) are asked again `attempts` times.
 */
export async function resolveSources(
  specs: readonly SourceSpec[],
  client: SourceClient,
  opts: { attempts?: number; retryDelayMs?: number } = {},
): Promise<ResolvedSources> {
  const files: SourceFile[] = [];
  const notes: SourceNote[] = [];
  const failures: SourceFailure[] = [];
  const seen = new Set<string>();
  const add = (r: Omit<ResolvedSources, "failures">): void => {
    for (const f of r.files) {
      const key = `${f.name}@${f.version}/${f.provider}/${f.architecture ?? "?"}`;
      if (seen.has(key)) continue; // the same file named twice (a box and its org): copied once
      seen.add(key);
      files.push(f);
    }
    notes.push(...r.notes);
  };
  const get = async (url: string): Promise<unknown> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await client.getJson(url);
      } catch (err) {
        if (!(err instanceof SourceError) || !err.retryable || attempt >= (opts.attempts ?? 4)) throw err;
        await new Promise((r) => setTimeout(r, (opts.retryDelayMs ?? 1000) * attempt));
      }
    }
  };
  const attempt = async (source: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof SourceError)) throw err;
      failures.push({ source, reason: err.message });
    }
  };
  for (const spec of specs) {
    if (spec.kind === "catalog") {
      await attempt(spec.url, async () => add(fromCatalog(await get(spec.url), parseHttpUrl(spec.url), undefined)));
    } else if (spec.kind === "box") {
      await attempt(`${spec.org}/${spec.name}`, async () => add(await readApiBox(get, spec.api, spec.org, spec.name)));
    } else {
      await attempt(spec.org, async () => {
        const url = `${spec.api}/api/v2/user/${encodeURIComponent(spec.org)}`;
        const org = (await get(url)) as { boxes?: unknown } | null;
        if (typeof org !== "object" || org === null || !Array.isArray(org.boxes)) throw new SourceError(`GET ${url}: no "boxes" list (expected an HCP Vagrant organisation)`, false);
        for (const b of org.boxes as Array<Record<string, unknown> | null>) {
          const name = typeof b?.name === "string" ? b.name : undefined;
          const owner = typeof b?.username === "string" ? b.username : spec.org;
          if (name === undefined) continue;
          // One box that cannot be read does not stop the rest of the organisation.
          await attempt(`${owner}/${name}`, async () => add(await readApiBox(get, spec.api, owner, name)));
        }
      });
    }
  }
  return { files, notes, failures };
}

async function readApiBox(get: (url: string) => Promise<unknown>, api: string, org: string, name: string): Promise<Omit<ResolvedSources, "failures">> {
  const url = `${api}/api/v2/box/${encodeURIComponent(org)}/${encodeURIComponent(name)}`;
  const box = await get(url);
  return fromCatalog(box, new URL(url), `${org}/${name}`);
}

/**
 * The files of one catalog, in Vagrant's catalog shape or the HCP API's box shape (the same
 * `versions[].providers[]` tree; the API names the box `username`/`name` and the provider's
 * URL `download_url`). Relative URLs are resolved against where the catalog came from.
 */
export function fromCatalog(raw: unknown, from: URL, fallbackName: string | undefined): Omit<ResolvedSources, "failures"> {
  const bad = (why: string): SourceError => new SourceError(`${shown(from)}: ${why} (expected a Vagrant catalog or an HCP Vagrant box)`, false);
  if (typeof raw !== "object" || raw === null) throw bad("not a JSON object");
  const c = raw as Record<string, unknown>;
  const name =
    typeof c.username === "string" && typeof c.name === "string" ? `${c.username}/${c.name}` : typeof c.tag === "string" ? c.tag : typeof c.name === "string" ? c.name : fallbackName;
  if (name === undefined) throw bad('no box "name"');
  if (!Array.isArray(c.versions)) throw bad('no "versions" list');
  const [org, boxName, ...rest] = name.split("/");
  const box = org !== undefined && boxName !== undefined && rest.length === 0 && isOrg(org) && isBoxName(boxName) ? { org, name: boxName } : undefined;
  const files: SourceFile[] = [];
  const notes: SourceNote[] = [];
  const boxText: BoxText = {
    ...(text(c, "description") === undefined ? {} : { description: text(c, "description")! }),
    ...(typeof c.short_description === "string" && c.short_description !== "" ? { short_description: c.short_description } : {}),
  };
  for (const v of c.versions as Array<Record<string, unknown> | null>) {
    const version = typeof v?.version === "string" ? v.version : typeof v?.number === "string" ? v.number : undefined;
    if (version === undefined || !Array.isArray(v?.providers)) throw bad('a version without "version" or "providers"');
    if (typeof v.status === "string" && v.status !== "active") {
      notes.push({ name, version, why: `not released at the source (status ${JSON.stringify(v.status)})` });
      continue;
    }
    for (const p of v.providers as Array<Record<string, unknown> | null>) {
      const provider = typeof p?.name === "string" ? p.name : undefined;
      if (provider === undefined) throw bad(`${name}@${version}: a provider without "name"`);
      const rawUrl = [p?.download_url, p?.url, p?.original_url].find((u): u is string => typeof u === "string" && u !== "");
      const archText = typeof p?.architecture === "string" ? p.architecture : undefined;
      const architecture = archText === undefined ? undefined : normalizeArchitecture(archText);
      const sum = parseSourceChecksum(p?.checksum_type, p?.checksum);
      let url = "";
      let problem: string | undefined;
      if (rawUrl === undefined) problem = "the source gives no URL for it";
      else {
        try {
          url = parseHttpUrl(new URL(rawUrl, from).href).href;
        } catch {
          problem = `its URL ${JSON.stringify(rawUrl)} is not an http(s) URL`;
        }
      }
      if (box === undefined) problem ??= `the name ${JSON.stringify(name)} is not a valid registry name (org: lowercase letters, digits, '-'; box: letters, digits, '.', '_', '-')`;
      if (!isVersion(version)) problem ??= `version ${JSON.stringify(version)} is not X.Y.Z (three whole numbers without leading zeros), which the registry requires`;
      if (!/^[a-z][a-z0-9_-]{0,31}$/.test(provider)) problem ??= `provider ${JSON.stringify(provider)} is not a provider name the registry accepts`;
      if (archText !== undefined && architecture === undefined) problem ??= `architecture ${JSON.stringify(archText)} is not one the registry holds (amd64, arm64, i386, arm, unknown)`;
      if ("problem" in sum) problem ??= sum.problem;
      files.push({
        name,
        box,
        version,
        provider,
        architecture,
        defaultArchitecture: p?.default_architecture === true,
        url,
        checksum: "problem" in sum ? undefined : sum,
        ...(problem === undefined ? {} : { problem }),
        boxText,
        ...(text(v, "description") === undefined ? {} : { versionDescription: text(v, "description")! }),
      });
    }
  }
  return { files, notes };
}

/**
 * A description as the registry keeps it (plain text or Markdown, rendered as text): a plain
 * catalog's `description`, or the HCP API's `description_markdown` (what the author typed; its
 * `description_html` is the host's rendering of it, not copied). Empty counts as none.
 */
function text(o: Record<string, unknown>, field: "description"): string | undefined {
  const value = [o[`${field}_markdown`], o[field]].find((x): x is string => typeof x === "string" && x !== "");
  return value;
}
