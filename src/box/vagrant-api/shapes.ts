import type { Catalog, CatalogProvider, CatalogVersion, PendingProvider } from "../catalog.js";
import { versionStatus } from "../catalog.js";
import type { BoxRef } from "../names.js";

/**
 * The JSON Vagrant Cloud's API answers with, as its clients read it: the vagrant_cloud gem
 * 3.0.5 (`Box`, `Box::Version`, `Box::Provider` load these keys; a record without
 * `created_at` counts as not saved yet, so every record has one) and Packer's post-processor
 * (`tag`, `versions[].version`, `providers[].name`). Descriptions are plain text here; the
 * `_html` fields carry them escaped.
 */

/** For records written before timestamps were kept (homelab box publish): a date, not a claim. */
const UNKNOWN_TIME = "1970-01-01T00:00:00.000Z";

export interface ShapeContext {
  /** http://host:port of this server, for download and action URLs. */
  readonly base: string;
  /** `/api/v1` or `/api/v2`. */
  readonly apiRoot: string;
  /** Whether the org's reads need a token (Vagrant Cloud's per-box `private`, here per org). */
  readonly private: boolean;
  /** Whether unreleased versions are shown (a token that may write to the org). */
  readonly owner: boolean;
}

export function boxJson(ref: BoxRef, c: Catalog, ctx: ShapeContext, opts: { versions: boolean } = { versions: true }): Record<string, unknown> {
  const versions = visibleVersions(c, ctx.owner);
  const current = [...versions].reverse().find((v) => versionStatus(v) === "active" && v.providers.length > 0);
  return {
    tag: `${ref.org}/${ref.name}`,
    name: ref.name,
    username: ref.org,
    short_description: c.short_description ?? firstLine(c.description),
    description: c.description,
    description_markdown: c.description,
    description_html: html(c.description),
    private: ctx.private,
    downloads: 0,
    created_at: c.created_at ?? UNKNOWN_TIME,
    updated_at: c.updated_at ?? c.created_at ?? UNKNOWN_TIME,
    current_version: current ? versionJson(ref, current, ctx) : null,
    // Newest first, as Vagrant Cloud lists them (`vagrant cloud box show` prints the first five).
    ...(opts.versions ? { versions: [...versions].reverse().map((v) => versionJson(ref, v, ctx)) } : {}),
  };
}

/** Unreleased versions are the owners' business; revoked ones stay visible, with the reason. */
export function visibleVersions(c: Catalog, owner: boolean): CatalogVersion[] {
  return c.versions.filter((v) => owner || versionStatus(v) !== "unreleased");
}

export function versionJson(ref: BoxRef, v: CatalogVersion, ctx: ShapeContext): Record<string, unknown> {
  const self = `${ctx.base}${ctx.apiRoot}/box/${ref.org}/${ref.name}/version/${v.version}`;
  const created = v.created_at ?? UNKNOWN_TIME;
  return {
    version: v.version,
    number: v.version,
    status: versionStatus(v),
    description: v.description ?? "",
    description_markdown: v.description ?? "",
    description_html: html(v.description ?? ""),
    ...(versionStatus(v) === "revoked" ? { revoked_reason: v.revoked_reason ?? "no reason given" } : {}),
    created_at: created,
    updated_at: v.updated_at ?? created,
    release_url: `${self}/release`,
    revoke_url: `${self}/revoke`,
    providers: [
      ...v.providers.map((p) => providerJson(ref, v, p, ctx)),
      ...(ctx.owner ? (v.pending_providers ?? []).map((p) => pendingJson(p)) : []),
    ],
  };
}

export function providerJson(ref: BoxRef, v: CatalogVersion, p: CatalogProvider, ctx: ShapeContext): Record<string, unknown> {
  const created = v.created_at ?? UNKNOWN_TIME;
  return {
    name: p.name,
    architecture: p.architecture,
    default_architecture: p.default_architecture,
    hosted: true,
    hosted_token: null,
    original_url: null,
    download_url: `${ctx.base}/${ref.org}/${ref.name}/${v.version}/${p.name}/${p.architecture}`,
    checksum: p.checksum,
    checksum_type: p.checksum_type,
    size: p.size,
    uploaded: true,
    created_at: created,
    updated_at: v.updated_at ?? created,
  };
}

/** A provider announced but not uploaded yet: no download, and the checksum the client promised. */
export function pendingJson(p: PendingProvider): Record<string, unknown> {
  return {
    name: p.name,
    ...(p.architecture ? { architecture: p.architecture } : {}),
    hosted: true,
    hosted_token: null,
    original_url: null,
    download_url: null,
    checksum: p.checksum ?? null,
    checksum_type: p.checksum_type ?? null,
    uploaded: false,
    created_at: p.created_at || UNKNOWN_TIME,
    updated_at: p.created_at || UNKNOWN_TIME,
  };
}

export function organizationJson(org: string, boxes: { ref: BoxRef; catalog: Catalog }[], ctx: ShapeContext): Record<string, unknown> {
  return {
    username: org,
    avatar_url: null,
    profile_html: "",
    profile_markdown: "",
    // Without `versions`: the gem loads those from each box on demand, and would list them twice.
    boxes: boxes.map((b) => boxJson(b.ref, b.catalog, ctx, { versions: false })),
  };
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0] ?? "";
}

function html(text: string): string {
  if (text === "") return "";
  const escaped = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  return `<p>${escaped}</p>`;
}
