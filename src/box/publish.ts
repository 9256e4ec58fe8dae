import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { InputError } from "../errors.js";
import type { BoxBackend } from "./backend.js";
import type { Catalog, CatalogProvider, VersionStatus } from "./catalog.js";
import { releaseChange, revokeChange } from "./release-state.js";
import { HttpRegistry, isRegistryUrl } from "./http-registry.js";
import { parseArchitecture, parseBoxRef, parseProvider, parseVersion, type BoxRef, type BoxSelector } from "./names.js";
import { BoxStore, NotFoundError, type Progress, type PublishResult } from "./store.js";

export interface PublishBoxOptions {
  /** The .box file (tar or tar.gz with metadata.json). */
  readonly file: string;
  /** `org/name`. */
  readonly name: string;
  /** `X.Y.Z`. */
  readonly version: string;
  /** Checked against the box's metadata.json; taken from it when omitted. */
  readonly provider?: string;
  /** Vagrant's names (amd64, arm64) or x86_64/aarch64; default: metadata.json's, else amd64. */
  readonly architecture?: string;
  /** A directory (written directly), an http(s) URL of `homelab box serve`, or an open store (an S3 bucket). */
  readonly registry: string | BoxBackend;
  /** Bearer token for a URL registry (default: $HOMELAB_REGISTRY_TOKEN). */
  readonly token?: string;
  readonly force?: boolean;
  readonly defaultArchitecture?: boolean;
  /** false: a version this publish creates stays unreleased (out of Vagrant's catalog) until released. Default true. */
  readonly release?: boolean;
  readonly onProgress?: (p: Progress) => void;
  readonly signal?: AbortSignal;
}

/**
 * Publishes a box into a registry: the entry point `homelab box publish` and `homelab build
 * --publish` share. Throws InputError (exit 2) for a bad box or bad names, ConflictError
 * (exit 1) when the version+provider+architecture exists and `force` is not set.
 */
export async function publishBox(o: PublishBoxOptions): Promise<PublishResult> {
  const box = parseBoxRef(o.name, "name");
  const version = parseVersion(o.version, "version");
  const provider = o.provider === undefined ? undefined : parseProvider(o.provider, "provider");
  const architecture = o.architecture === undefined ? undefined : parseArchitecture(o.architecture, "architecture");
  const common = {
    box,
    version,
    ...(provider === undefined ? {} : { provider }),
    ...(architecture === undefined ? {} : { architecture }),
    ...(o.force === undefined ? {} : { force: o.force }),
    ...(o.defaultArchitecture === undefined ? {} : { defaultArchitecture: o.defaultArchitecture }),
    ...(o.release === false ? { status: "unreleased" as const } : {}),
    ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
    ...(o.signal === undefined ? {} : { signal: o.signal }),
  };
  if (isUrl(o.registry)) {
    return remoteRegistry(o.registry, o.token).publish({ file: o.file, ...common });
  }
  let total: number | undefined;
  try {
    const st = await stat(o.file);
    if (st.isDirectory()) throw new InputError(`${o.file}: is a directory, expected a .box file`);
    if (st.isFile()) total = st.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${o.file}: no such file`);
  }
  const store = await openLocal(o.registry, { create: true });
  return store.publish(createReadStream(o.file, { highWaterMark: 1 << 20 }), { ...common, label: o.file, ...(total === undefined ? {} : { total }) });
}

/** A registry directory opened as a store, or the store given (an S3 bucket). */
async function openLocal(registry: string | BoxBackend, opts: { create?: boolean } = {}): Promise<BoxBackend> {
  return typeof registry === "string" ? BoxStore.open(registry, opts) : registry;
}

function isUrl(registry: string | BoxBackend): registry is string {
  return typeof registry === "string" && isRegistryUrl(registry);
}

/** Catalogs of one box (or every box) in a registry directory, URL or store. */
export async function listRegistry(registry: string | BoxBackend, name?: string, token?: string): Promise<Catalog[]> {
  const ref: BoxRef | undefined = name === undefined ? undefined : parseBoxRef(name);
  if (isUrl(registry)) return remoteRegistry(registry, token).catalogs(ref);
  const store = await openLocal(registry);
  const refs = ref ? [ref] : await store.listBoxes();
  const out: Catalog[] = [];
  for (const r of refs) {
    const c = await store.readCatalog(r);
    if (c) out.push(c);
  }
  return out;
}

/**
 * Releases a version (it enters the catalog Vagrant reads) or revokes it (it leaves it; its
 * downloads answer 410 with the reason). Returns the new state. NotFoundError for an unknown
 * version; ConflictError when the version is already in that state or (release) has no box.
 */
export async function setReleaseState(registry: string | BoxBackend, name: string, version: string, action: "release" | "revoke", opts: { reason?: string; token?: string } = {}): Promise<VersionStatus> {
  const ref = parseBoxRef(name);
  parseVersion(version);
  if (isUrl(registry)) return remoteRegistry(registry, opts.token).setReleaseState(ref, version, action, opts.reason);
  const store = await openLocal(registry);
  const v = (await store.readCatalog(ref))?.versions.find((x) => x.version === version);
  const what = `${name}@${version}`;
  if (!v) throw new NotFoundError(`${what}: not in the registry`);
  const change = action === "release" ? releaseChange(v, what) : revokeChange(v, what, opts.reason);
  return (await store.saveVersion(ref, version, change, "update")).status ?? "active";
}

/**
 * Sets a box's descriptions (box: description, short_description; versions: description) in a
 * registry directory (the store's box and version records) or a `box serve` URL (Vagrant's API,
 * as `vagrant cloud box update` / `version update` do). Fields left undefined stay as they are.
 */
export async function describeInRegistry(
  registry: string,
  ref: BoxRef,
  box: { description?: string; short_description?: string },
  versions: ReadonlyArray<{ version: string; description: string }>,
  token?: string,
): Promise<void> {
  if (isRegistryUrl(registry)) {
    const remote = remoteRegistry(registry, token);
    if (box.description !== undefined || box.short_description !== undefined) await remote.describeBox(ref, box);
    for (const v of versions) await remote.describeVersion(ref, v.version, v.description);
    return;
  }
  const store = await BoxStore.open(registry);
  if (box.description !== undefined || box.short_description !== undefined) await store.saveBox(ref, box, "update");
  for (const v of versions) await store.saveVersion(ref, v.version, { description: v.description }, "update");
}

/** Removes `org/name@version[/provider[/architecture]]`; throws NotFoundError when nothing matches. */
export async function removeFromRegistry(registry: string | BoxBackend, sel: BoxSelector, token?: string): Promise<CatalogProvider[] | undefined> {
  if (isUrl(registry)) {
    await remoteRegistry(registry, token).remove(sel);
    return undefined;
  }
  return (await openLocal(registry)).remove(sel);
}

/**
 * A URL registry with the token from the caller or $HOMELAB_REGISTRY_TOKEN, and its idle
 * timeout from $HOMELAB_REGISTRY_TIMEOUT (seconds) when set: a server that stops answering is
 * given up after that long.
 */
function remoteRegistry(url: string, token: string | undefined): HttpRegistry {
  const raw = process.env.HOMELAB_REGISTRY_TIMEOUT;
  const seconds = raw === undefined || raw === "" ? undefined : Number(raw);
  if (seconds !== undefined && !(Number.isFinite(seconds) && seconds > 0)) {
    throw new InputError(`HOMELAB_REGISTRY_TIMEOUT: expected a number of seconds, got ${JSON.stringify(raw)}`);
  }
  return new HttpRegistry(url, token ?? process.env.HOMELAB_REGISTRY_TOKEN, seconds === undefined ? {} : { idleTimeoutMs: seconds * 1000, connectTimeoutMs: seconds * 1000 });
}
