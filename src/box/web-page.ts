import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Catalog, CatalogProvider, CatalogVersion } from "./catalog.js";
import { formatBoxRef, type BoxRef } from "./names.js";

/**
 * The registry's web page: server-rendered HTML with its CSS (and a few lines of script that
 * add copy buttons) inline, so there is nothing to build and nothing else to fetch. Everything
 * is readable without JavaScript. Every value that comes from a catalog is escaped: a catalog
 * is a file on disk anyone with write access to the root could have edited, and its name and
 * descriptions are free text.
 */

/** A version's release state; a catalog that says nothing is an active (released) version. */
export type ReleaseStatus = "unreleased" | "active" | "revoked";

/** The optional release fields a version may carry (absent: active, no description). */
type PageVersion = CatalogVersion & { status?: unknown; description?: unknown; revoked_reason?: unknown };

/** A box as the store found it: its validated name (links and commands) and its catalog (shown, escaped). */
export interface PageBox {
  readonly ref: BoxRef;
  readonly catalog: Catalog;
}

export interface PageContext {
  /** The server's base URL as the client sees it (no trailing slash; with the proxy's path prefix when `--public-url` has one). */
  readonly baseUrl: string;
  /**
   * The token the page was opened with in its URL (`?access_token=`), carried on its links so
   * the next click into a private organisation is not refused: a browser cannot send a bearer
   * header. Only ever the token this very request carried in its query, never one from a
   * header: a page must not hand out a token its reader did not already put in the address bar.
   */
  readonly accessToken?: string;
}

/**
 * Links are relative to the page, so they work under any path prefix a reverse proxy adds
 * (`/boxes/` in front of `/`) without the server knowing it: the index is always at the root
 * (`./org/box`), a box page always at `org/box` (no trailing slash: request-path.ts refuses one),
 * so `../` is the index and `./box/…` its files. With `accessToken`, each link carries it.
 */
function link(ctx: PageContext, relative: string): string {
  return ctx.accessToken === undefined ? relative : `${relative}?access_token=${encodeURIComponent(ctx.accessToken)}`;
}

/** Whether the client asked for a page rather than JSON: browsers list text/html, Vagrant and curl do not. */
export function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return /\btext\/html\b/i.test(accept) && !/\bapplication\/json\b/i.test(accept);
}

const CSS = `
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--mute:#57606a;--line:#d0d7de;--code:#f6f8fa;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--mute:#8d96a0;--line:#30363d;--code:#161b22;--ok:#3fb950;--warn:#d29922;--bad:#f85149}}
body{font:15px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);max-width:72rem;margin:0 auto;padding:1rem 1.5rem 3rem}
a{color:inherit}h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.25rem;margin:2rem 0 .25rem}h3{font-size:1.05rem;margin:1.5rem 0 .25rem}
.mute{color:var(--mute)}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
td.num{text-align:right;white-space:nowrap}code,pre{font:13px/1.45 ui-monospace,monospace}
.sum{word-break:break-all}pre{background:var(--code);border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;overflow-x:auto;margin:.25rem 0 0}
.cmd{position:relative}.cmd button{position:absolute;top:.35rem;right:.35rem;font:12px system-ui,sans-serif;padding:.15rem .5rem;cursor:pointer}
.state{display:inline-block;font-size:.8rem;font-weight:600;padding:0 .45rem;border-radius:1rem;border:1px solid currentColor;margin-left:.4rem}
.active{color:var(--ok)}.unreleased{color:var(--warn)}.revoked{color:var(--bad)}
`;

// Progressive enhancement only: every command is a <pre> one can select; with script, each gets a button.
const SCRIPT = `
for (const pre of document.querySelectorAll("pre[data-copy]")) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = "Copy";
  b.setAttribute("aria-label", "Copy: " + pre.textContent);
  b.addEventListener("click", async () => {
    const text = pre.textContent;
    try { await navigator.clipboard.writeText(text); }
    catch { const r = document.createRange(); r.selectNodeContents(pre); const s = getSelection(); s.removeAllRanges(); s.addRange(r); document.execCommand("copy"); }
    b.textContent = "Copied";
    setTimeout(() => (b.textContent = "Copy"), 1500);
  });
  pre.parentElement.appendChild(b);
}
`;

const sha = (s: string): string => `'sha256-${createHash("sha256").update(s).digest("base64")}'`;
/**
 * Nothing but the inline style and script written here may run or load: an injected tag that
 * escaping somehow missed still could not execute or fetch anything.
 */
export const CONTENT_SECURITY_POLICY = `default-src 'none'; style-src ${sha(CSS)}; script-src ${sha(SCRIPT)}; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** `&<>"'` become entities: safe in text and in quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function releaseStatus(v: CatalogVersion): ReleaseStatus {
  const s = (v as PageVersion).status;
  return s === "unreleased" || s === "revoked" ? s : "active";
}

/** 1536 → "1.5 KiB"; the exact byte count goes in a title. */
export function formatSize(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${bytes} bytes` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

/** The page at `/`: every box with its newest active version and where to read more. */
export function renderIndexPage(boxes: readonly PageBox[], ctx: PageContext): string {
  const rows = boxes.map(({ ref, catalog: c }) => {
    const active = c.versions.filter((v) => releaseStatus(v) === "active");
    const latest = active[active.length - 1];
    const providers = latest ? [...new Set(byDisplayOrder(latest.providers).map((p) => `${p.name} (${p.architecture})`))].join(", ") : "";
    return `<tr><td><a href="${escapeHtml(link(ctx, `./${ref.org}/${ref.name}`))}">${escapeHtml(c.name)}</a></td><td>${escapeHtml(c.description)}</td><td>${latest ? escapeHtml(latest.version) : '<span class="mute">none released</span>'}</td><td>${escapeHtml(providers)}</td><td class="num">${c.versions.length}</td></tr>`;
  });
  const body = boxes.length === 0
    ? `<p>No boxes yet. Publish one with <code>homelab box publish BOX --name org/name --box-version 1.0.0 --registry ${escapeHtml(ctx.baseUrl)}</code>.</p>`
    : `<table><thead><tr><th>Box</th><th>Description</th><th>Latest</th><th>Providers (architecture)</th><th class="num">Versions</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  return page("Vagrant boxes", `<h1>Vagrant boxes</h1><p class="mute">${escapeHtml(ctx.baseUrl)} — ${boxes.length} ${boxes.length === 1 ? "box" : "boxes"}. Open a box for its versions, checksums and the lines to add it.</p>${body}`);
}

/** The page of one box: how to add it, then every version (newest first) with its files. */
export function renderBoxPage({ ref, catalog }: PageBox, ctx: PageContext): string {
  // Absolute, with the public URL's path prefix: Vagrant needs a whole URL. Never with the token
  // (see tokenHint): a copied command ends up in shell history, tickets and chat.
  const url = `${ctx.baseUrl}${boxPath(ref)}`;
  const active = catalog.versions.filter((v) => releaseStatus(v) === "active");
  const latest = active[active.length - 1];
  const use = latest
    ? `<h2>Use it</h2><p>Add the newest release (${escapeHtml(latest.version)}):</p>${command(`vagrant box add ${shellQuote(url)}`)}<p>or name it in a Vagrantfile; <code>vagrant up</code> fetches it:</p>${command(`Vagrant.configure("2") do |config|\n  config.vm.box = ${rubyString(formatBoxRef(ref))}\n  config.vm.box_url = ${rubyString(url)}\n  config.vm.box_version = ${rubyString(latest.version)}\nend`)}`
    : `<h2>Use it</h2><p>No version of this box is released yet.</p>`;
  const versions = [...catalog.versions].reverse().map((v) => renderVersion(ref, v, url, ctx));
  return page(
    catalog.name,
    `<p><a href="${escapeHtml(link(ctx, "../"))}">All boxes</a></p><h1>${escapeHtml(catalog.name)}</h1>${catalog.description ? `<p>${escapeHtml(catalog.description)}</p>` : ""}${use}${latest ? tokenHint(ctx) : ""}<h2>Versions</h2>${versions.join("") || "<p>None.</p>"}`,
  );
}

/**
 * A page opened with a token is (likely) a private box: Vagrant must send a token too. Vagrant
 * adds one itself (VAGRANT_CLOUD_TOKEN, as a bearer header, or `?access_token=` with
 * VAGRANT_SERVER_ACCESS_TOKEN_BY_URL) to URLs on VAGRANT_SERVER_URL's host
 * (plugins/commands/cloud/auth/middleware/add_authentication.rb), so the lines to copy stay
 * token-free and this says which variables to set; the token itself is not repeated here.
 */
function tokenHint(ctx: PageContext): string {
  if (ctx.accessToken === undefined) return "";
  // Vagrant matches the host only; the whole base URL (with a proxy's prefix) also makes `vagrant box add org/box` resolve here.
  return `<p class="mute">Private box: give Vagrant a read token in its environment, <code>VAGRANT_CLOUD_TOKEN=<var>token</var> VAGRANT_SERVER_URL=${escapeHtml(ctx.baseUrl)}</code>; Vagrant then sends it to this host.</p>`;
}

function renderVersion(ref: BoxRef, v: CatalogVersion, url: string, ctx: PageContext): string {
  const pv = v as PageVersion;
  const state = releaseStatus(v);
  const files = byDisplayOrder(v.providers).map((p) => providerRow(ref, v, p, ctx));
  const why = state === "revoked" && typeof pv.revoked_reason === "string" && pv.revoked_reason !== "" ? `<p><strong>Revoked:</strong> ${escapeHtml(pv.revoked_reason)}</p>` : "";
  const note = state === "unreleased" ? `<p class="mute">Not released: Vagrant does not offer this version yet.</p>` : state === "revoked" ? `<p class="mute">Revoked: Vagrant no longer offers this version.</p>` : "";
  const providers = [...new Set(v.providers.map((p) => p.name))];
  const add = state === "active" ? command(`vagrant box add --box-version ${v.version}${providers.length === 1 ? ` --provider ${providers[0]}` : ""} ${shellQuote(url)}`) : "";
  return `<section id="v${escapeHtml(v.version)}"><h3>${escapeHtml(v.version)}<span class="state ${state}">${state}</span></h3>${typeof pv.description === "string" && pv.description !== "" ? `<p>${escapeHtml(pv.description)}</p>` : ""}${why}${note}<table><thead><tr><th>Provider</th><th>Architecture</th><th class="num">Size</th><th>SHA-256</th><th>File</th></tr></thead><tbody>${files.join("")}</tbody></table>${add}</section>`;
}

function providerRow(ref: BoxRef, v: CatalogVersion, p: CatalogProvider, ctx: PageContext): string {
  // Relative to the box page (`…/org/box`): its directory is `…/org/`.
  const href = link(ctx, `./${ref.name}/${v.version}/${p.name}/${p.architecture}`);
  return `<tr><td>${escapeHtml(p.name)}</td><td>${escapeHtml(p.architecture)}${p.default_architecture ? ' <span class="mute">(default)</span>' : ""}</td><td class="num" title="${escapeHtml(p.size)} bytes">${escapeHtml(formatSize(p.size))}</td><td class="sum"><code>${escapeHtml(p.checksum)}</code></td><td><a href="${escapeHtml(href)}" download>download</a></td></tr>`;
}

/** Providers by name, each one's default architecture first (the catalog keeps it last, for Vagrant 2.3). */
function byDisplayOrder(providers: readonly CatalogProvider[]): CatalogProvider[] {
  return [...providers].sort((a, b) => a.name.localeCompare(b.name) || Number(b.default_architecture) - Number(a.default_architecture) || a.architecture.localeCompare(b.architecture));
}

/**
 * A box's URL path, from the names its directories passed (names.ts: letters, digits, `.`, `_`,
 * `-`), never from the catalog's free-text name, so a hand-edited catalog cannot redirect a link.
 */
function boxPath(ref: BoxRef): string {
  return `/${ref.org}/${ref.name}`;
}

function command(text: string): string {
  return `<div class="cmd"><pre data-copy><code>${escapeHtml(text)}</code></pre></div>`;
}

/** Single-quoted for a POSIX shell. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A double-quoted Ruby string literal (no interpolation can sneak in). */
function rubyString(s: string): string {
  return `"${s.replace(/[\\"#]/g, (c) => `\\${c}`).replace(/\n/g, "\\n")}"`;
}

function page(title: string, main: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><main>${main}</main><footer class="mute"><p>Served by homelab box serve. The same URLs answer Vagrant with JSON catalogs.</p></footer><script>${SCRIPT}</script></body></html>
`;
}

/**
 * Sends a rendered page with an ETag of its bytes (a 304 when the client has them), a strict
 * Content-Security-Policy, and `Vary: Accept` because the same URL also answers JSON.
 */
export function sendPage(req: IncomingMessage, res: ServerResponse, html: string): void {
  const data = Buffer.from(html);
  const etag = `"${createHash("sha256").update(data).digest("base64url")}"`;
  res.setHeader("ETag", etag);
  res.setHeader("Vary", "Accept");
  res.setHeader("Cache-Control", "no-cache");
  res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "no-referrer");
  if (req.headers["if-none-match"]?.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
    res.writeHead(304).end();
    return;
  }
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": data.length });
  res.end(req.method === "HEAD" ? undefined : data);
}
