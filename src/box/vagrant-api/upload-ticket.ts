import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { isArchitecture, isBoxName, isOrg, isProvider, isVersion, type Architecture, type BoxRef } from "../names.js";
import type { AccessRules, TokenHolder } from "../tokens.js";

/**
 * Upload URLs. Vagrant's clients PUT the box to the URL the API hands out *without* their
 * token (the vagrant_cloud gem uses a bare Excon.put, Vagrant's uploader is curl -T, Packer's
 * direct upload a bare request), so the URL itself must say who may upload what. It carries a
 * ticket: what may be uploaded (box, version, provider, architecture), until when, and which
 * token asked for it, signed with that very token (HMAC-SHA256). So any server with the same
 * access file accepts it (no state shared between servers), and removing the token from the
 * access file voids every ticket it signed.
 */
export interface UploadTicket {
  readonly box: BoxRef;
  readonly version: string;
  readonly provider: string;
  readonly architecture?: Architecture;
  /** Seconds since the epoch. */
  readonly expires: number;
  /** The direct-upload flow: the client confirms through the callback. */
  readonly direct: boolean;
}

/** How long an upload URL may be started after it was handed out. */
export const TICKET_LIFETIME_S = 3600;

export function signTicket(t: UploadTicket, holder: TokenHolder): string {
  const payload = Buffer.from(
    JSON.stringify({ o: t.box.org, n: t.box.name, v: t.version, p: t.provider, ...(t.architecture ? { a: t.architecture } : {}), x: t.expires, d: t.direct ? 1 : 0, k: keyId(holder.secret) }),
  ).toString("base64url");
  return `${payload}.${mac(payload, holder.secret)}`;
}

export type TicketCheck = { ok: true; ticket: UploadTicket; holder: TokenHolder } | { ok: false; reason: string };

/**
 * Checks a ticket: well formed, signed by a token that still exists and may still write to
 * the box's org, not expired. The reason is for the log; the client hears only that the URL
 * is not valid.
 */
export function verifyTicket(text: string, access: AccessRules, now = Date.now() / 1000): TicketCheck {
  const dot = text.indexOf(".");
  const payload = text.slice(0, dot);
  const sig = text.slice(dot + 1);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: "the upload ticket does not parse" };
  }
  const { o, n, v, p, a, x, d, k } = raw;
  if (typeof o !== "string" || !isOrg(o) || typeof n !== "string" || !isBoxName(n) || typeof v !== "string" || !isVersion(v) || typeof p !== "string" || !isProvider(p)) {
    return { ok: false, reason: "the upload ticket names no valid box" };
  }
  if (a !== undefined && (typeof a !== "string" || !isArchitecture(a))) return { ok: false, reason: "the upload ticket names no valid architecture" };
  if (typeof x !== "number" || typeof k !== "string") return { ok: false, reason: "the upload ticket is incomplete" };
  const holder = access.writers().find((h) => keyId(h.secret) === k && safeEqual(mac(payload, h.secret), sig));
  if (!holder) return { ok: false, reason: "the upload ticket's signature matches no current write token" };
  if (!(holder.orgs === "*" || holder.orgs.includes(o))) return { ok: false, reason: `the token that signed the upload ticket may not write to ${o}` };
  if (x < now) return { ok: false, reason: "the upload ticket expired" };
  return { ok: true, holder, ticket: { box: { org: o, name: n }, version: v, provider: p, ...(a === undefined ? {} : { architecture: a as Architecture }), expires: x, direct: d === 1 } };
}

/** Names a token in a ticket without revealing it. */
function keyId(secret: string): string {
  return createHash("sha256").update(`homelab upload key\0${secret}`).digest("hex").slice(0, 12);
}

function mac(payload: string, secret: string): string {
  return createHmac("sha256", secret).update(payload).digest("base64url");
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
