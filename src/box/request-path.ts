import { isArchitecture, isBoxName, isOrg, isProvider, isVersion, type Architecture, type BoxRef } from "./names.js";

/**
 * What a request path names. The raw path (as sent, before any decoding) is matched against a
 * whitelist: only letters, digits, `.`, `_`, `-` and single `/` separators; no `%` at all, so
 * encoded slashes or dots and double encoding are refused before anything could decode them,
 * and `.`/`..` segments are refused outright. The store never sees the path itself, only the
 * validated names taken from it.
 */
export type Route =
  | { kind: "health" }
  | { kind: "index" }
  | { kind: "catalog"; box: BoxRef }
  | { kind: "version"; box: BoxRef; version: string }
  | { kind: "provider"; box: BoxRef; version: string; provider: string; architecture?: Architecture };

export type RouteResult = { route: Route; query: URLSearchParams } | { status: 400 | 404; reason: string };

const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;
const QUERY_KEYS = new Set(["access_token", "force", "default_architecture", "release"]);

/** Whether a raw path (before `?`) passes the whitelist every route shares. */
export function isSafePath(path: string): boolean {
  return SAFE_PATH.test(path);
}

export function parseRequestPath(rawUrl: string): RouteResult {
  const q = rawUrl.indexOf("?");
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : rawUrl.slice(q + 1));
  if (!SAFE_PATH.test(path)) return { status: 400, reason: "the path may only contain letters, digits, '.', '_', '-' and '/'" };
  for (const key of query.keys()) if (!QUERY_KEYS.has(key)) return { status: 400, reason: `unknown query parameter ${JSON.stringify(key)}` };
  if (path === "/") return { route: { kind: "index" }, query };
  if (path === "/healthz") return { route: { kind: "health" }, query };
  const segs = path.slice(1).split("/");
  if (segs.some((s) => s === "" || s === "." || s === "..")) return { status: 400, reason: "empty, '.' or '..' path segments are not allowed" };
  const [org, name, version, provider, arch] = segs;
  if (segs.length < 2 || segs.length > 5 || org === undefined || name === undefined) return { status: 404, reason: "no such box" };
  if (!isOrg(org) || !isBoxName(name)) return { status: 404, reason: "no such box" };
  const box = { org, name };
  if (version === undefined) return { route: { kind: "catalog", box }, query };
  if (!isVersion(version)) return { status: 404, reason: "no such version (expected X.Y.Z)" };
  if (provider === undefined) return { route: { kind: "version", box, version }, query };
  if (!isProvider(provider)) return { status: 404, reason: "no such provider" };
  if (arch === undefined) return { route: { kind: "provider", box, version, provider }, query };
  if (!isArchitecture(arch)) return { status: 404, reason: "no such architecture" };
  return { route: { kind: "provider", box, version, provider, architecture: arch }, query };
}
