import { isArchitecture, isBoxName, isOrg, isProvider, isVersion, type Architecture, type BoxRef } from "../names.js";

/**
 * The paths of Vagrant Cloud's API that its clients call, under `/api/v1/` (Vagrant's
 * `vagrant cloud` through the vagrant_cloud gem 3.0, Packer 1.6.6's `vagrant-cloud`
 * post-processor) or `/api/v2/` (packer-plugin-vagrant today, which adds an architecture
 * segment to provider paths), plus the two of our own that upload URLs point at. Every name
 * is checked with names.ts before anything uses it; the raw path passed the server's
 * whitelist (letters, digits, `.`, `_`, `-`, `/`) already.
 */
export type ApiRoute =
  | { kind: "authenticate" }
  | { kind: "organization"; org: string }
  | { kind: "boxes" }
  /** `vagrant cloud search` (query, provider, sort, order, limit, page in the query string). */
  | { kind: "search" }
  | { kind: "box"; box: BoxRef }
  | { kind: "versions"; box: BoxRef }
  | { kind: "version"; box: BoxRef; version: string }
  | { kind: "release" | "revoke"; box: BoxRef; version: string }
  | { kind: "providers"; box: BoxRef; version: string }
  | { kind: "provider" | "upload" | "upload-direct"; box: BoxRef; version: string; provider: string; architecture?: Architecture }
  /** The catalog Vagrant >= 2.4 asks for when it expands `org/box` (`/api/v2/vagrant/org/box`). */
  | { kind: "catalog"; box: BoxRef }
  /** Our upload URL (a signed ticket) and its completion callback. */
  | { kind: "upload-put" | "upload-callback"; ticket: string };

export type ApiRouteResult = { route: ApiRoute; api: "v1" | "v2" } | { status: 404 | 400; reason: string };

const PREFIX = /^\/api\/(v1|v2)(\/.*)?$/;
const TICKET = /^[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{43}$/;

/** Whether a request path belongs to the API (checked before the catalog routes). */
export function isApiPath(path: string): boolean {
  return PREFIX.test(path);
}

export function parseApiPath(path: string): ApiRouteResult {
  const m = PREFIX.exec(path);
  if (!m) return { status: 404, reason: "not an API path" };
  const api = m[1] as "v1" | "v2";
  const segs = (m[2] ?? "").split("/").filter((s) => s !== "");
  const ok = (route: ApiRoute): ApiRouteResult => ({ route, api });
  const notFound: ApiRouteResult = { status: 404, reason: "no such API endpoint" };
  const [head, a, b, c, d, e, f, g, h, i, j] = segs;
  if (segs.length === 1 && head === "authenticate") return ok({ kind: "authenticate" });
  if (segs.length === 1 && head === "boxes") return ok({ kind: "boxes" });
  if (segs.length === 1 && head === "search") return ok({ kind: "search" });
  if (head === "user" || head === "organization") {
    if (segs.length !== 2 || a === undefined) return notFound;
    if (!isOrg(a)) return { status: 404, reason: `no organisation ${JSON.stringify(a)}` };
    return ok({ kind: "organization", org: a });
  }
  if (head === "uploads") {
    if (a === undefined || !TICKET.test(a)) return { status: 404, reason: "no such upload" };
    if (segs.length === 2) return ok({ kind: "upload-put", ticket: a });
    if (segs.length === 3 && b === "complete") return ok({ kind: "upload-callback", ticket: a });
    return notFound;
  }
  if (head === "vagrant") {
    if (segs.length !== 3 || a === undefined || b === undefined) return notFound;
    const box = boxRef(a, b);
    return box ? ok({ kind: "catalog", box }) : { status: 404, reason: "no such box" };
  }
  if (head !== "box" || a === undefined || b === undefined) return notFound;
  const box = boxRef(a, b);
  if (!box) return { status: 404, reason: "no such box" };
  if (segs.length === 3) return ok({ kind: "box", box });
  if (segs.length === 4 && c === "versions") return ok({ kind: "versions", box });
  if (c !== "version" || d === undefined) return notFound;
  if (!isVersion(d)) return { status: 400, reason: versionRule(d) };
  const version = d;
  if (segs.length === 5) return ok({ kind: "version", box, version });
  if (segs.length === 6 && (e === "release" || e === "revoke")) return ok({ kind: e, box, version });
  if (segs.length === 6 && e === "providers") return ok({ kind: "providers", box, version });
  if (e !== "provider" || f === undefined) return notFound;
  if (!isProvider(f)) return { status: 404, reason: `no provider ${JSON.stringify(f)}` };
  // provider/NAME[/ARCH][/upload[/direct]]: an architecture segment is one of Vagrant's names.
  let rest = [g, h, i, j].filter((s): s is string => s !== undefined);
  let architecture: Architecture | undefined;
  if (rest[0] !== undefined && rest[0] !== "upload") {
    if (!isArchitecture(rest[0])) return { status: 404, reason: `no architecture ${JSON.stringify(rest[0])}` };
    architecture = rest[0];
    rest = rest.slice(1);
  }
  const base = { box, version, provider: f, ...(architecture === undefined ? {} : { architecture }) };
  if (rest.length === 0) return ok({ kind: "provider", ...base });
  if (rest.length === 1 && rest[0] === "upload") return ok({ kind: "upload", ...base });
  if (rest.length === 2 && rest[0] === "upload" && rest[1] === "direct") return ok({ kind: "upload-direct", ...base });
  return notFound;
}

/** Why a version is refused: Vagrant Cloud took looser versions (1.2, 20260101); this registry keeps X.Y.Z. */
export function versionRule(version: string): string {
  return `version ${JSON.stringify(version)}: this registry keeps versions as X.Y.Z (three whole numbers, no leading zeros), e.g. 1.2.0 or 20260101.0.0`;
}

function boxRef(org: string, name: string): BoxRef | undefined {
  return isOrg(org) && isBoxName(name) ? { org, name } : undefined;
}
