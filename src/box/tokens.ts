import { createHash, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { InputError } from "../errors.js";

/** A set of bearer tokens, compared in constant time (digests, so lengths do not leak either). */
export class TokenSet {
  private readonly digests: Buffer[];
  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }
  get size(): number {
    return this.digests.length;
  }
  has(token: string | undefined): boolean {
    if (token === undefined) return false;
    const d = digest(token);
    let found = false;
    for (const x of this.digests) found = timingSafeEqual(x, d) || found;
    return found;
  }
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** What a token may do: read (download, see unreleased versions through the API) or write (also publish, release, revoke, delete). */
export type Access = "read" | "write";

/** A token limited to some organisations (`"*"`: all of them). */
export interface ScopedToken {
  readonly token: string;
  readonly access: Access;
  readonly orgs: "*" | readonly string[];
  /** Who holds it, for logs and the username Vagrant's API reports (default: the first org, or "homelab"). */
  readonly name?: string;
}

/**
 * Server access configuration: who may upload, and whether reads need a token. The two lists
 * are the original format (every org); `tokens` adds tokens scoped per organisation.
 */
export interface AccessConfig {
  /** Tokens allowed to PUT and DELETE in every org. None (and no scoped write token): uploads are refused. */
  readonly writeTokens: readonly string[];
  /** When non-empty, reads of every org need one of these (or a write token). Empty: anonymous reads. */
  readonly readTokens: readonly string[];
  /** Scoped tokens. A read token scoped to an org makes that org's reads need a token. */
  readonly tokens?: readonly ScopedToken[];
}

/** Who a request's token is, once it matched. */
export interface TokenHolder {
  readonly name: string;
  readonly access: Access;
  readonly orgs: "*" | readonly string[];
  /** The token itself: signs upload URLs it asked for (so any server with the same access file can check them). */
  readonly secret: string;
}

/**
 * The access rules of a running server: which token may read or write which organisation.
 * Every comparison is constant-time over digests (TokenSet); one token may appear in several
 * entries, and the strongest right for an org wins.
 */
export class AccessRules {
  private readonly entries: { set: TokenSet; holder: TokenHolder }[];
  constructor(config: AccessConfig) {
    const all: ScopedToken[] = [
      ...config.writeTokens.map((token): ScopedToken => ({ token, access: "write", orgs: "*" })),
      ...config.readTokens.map((token): ScopedToken => ({ token, access: "read", orgs: "*" })),
      ...(config.tokens ?? []),
    ];
    this.entries = all.map((t) => ({
      set: new TokenSet([t.token]),
      holder: { name: t.name ?? (t.orgs === "*" ? "homelab" : t.orgs[0] ?? "homelab"), access: t.access, orgs: t.orgs, secret: t.token },
    }));
  }

  /** Whether any token may write anywhere (no: uploads are disabled). */
  get writable(): boolean {
    return this.entries.some((e) => e.holder.access === "write");
  }

  /** Every write token's holder (upload tickets are checked against these). */
  writers(): TokenHolder[] {
    return this.entries.filter((e) => e.holder.access === "write").map((e) => e.holder);
  }

  /** The entries a token matches (empty: unknown token). */
  holders(token: string | undefined): TokenHolder[] {
    if (token === undefined) return [];
    const out: TokenHolder[] = [];
    for (const e of this.entries) if (e.set.has(token)) out.push(e.holder);
    return out;
  }

  /** The strongest right the token has on an org. */
  rights(token: string | undefined, org: string): Access | "none" {
    let best: Access | "none" = "none";
    for (const h of this.holders(token)) {
      if (h.orgs !== "*" && !h.orgs.includes(org)) continue;
      if (h.access === "write") return "write";
      best = "read";
    }
    return best;
  }

  /** Whether reading an org needs a token: some read token covers it (a private org). */
  readNeedsToken(org: string): boolean {
    return this.entries.some((e) => e.holder.access === "read" && (e.holder.orgs === "*" || e.holder.orgs.includes(org)));
  }

  /** Whether reads of every org need a token (the original `readTokens` list is set). */
  get allPrivate(): boolean {
    return this.entries.some((e) => e.holder.access === "read" && e.holder.orgs === "*");
  }

  canRead(token: string | undefined, org: string): boolean {
    return !this.readNeedsToken(org) || this.rights(token, org) !== "none";
  }

  canWrite(token: string | undefined, org: string): boolean {
    return this.rights(token, org) === "write";
  }
}

const MIN_TOKEN = 16;
const ORG_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const KEYS = ["writeTokens", "readTokens", "tokens"];

/**
 * Reads the access config from a JSON file, else from HOMELAB_REGISTRY_WRITE_TOKENS /
 * HOMELAB_REGISTRY_READ_TOKENS (comma-separated; every org). The file:
 *
 *     {"writeTokens": [...], "readTokens": [...],
 *      "tokens": [{"name": "ci", "token": "...", "access": "write", "orgs": ["acme"]}]}
 *
 * Every key is optional; a file with only the two lists (the original format) means the same
 * as before.
 */
export async function loadAccessConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<AccessConfig> {
  let write: unknown;
  let read: unknown;
  let scoped: unknown;
  let where: string;
  if (file !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, "utf8"));
    } catch (err) {
      throw new InputError(`${file}: cannot read the registry config: ${(err as Error).message}`);
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new InputError(`${file}: expected a JSON object {"writeTokens": [...], "readTokens": [...], "tokens": [...]}`);
    const obj = raw as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (!KEYS.includes(key)) throw new InputError(`${file}: unknown key ${JSON.stringify(key)} (expected ${KEYS.join(", ")})`);
    }
    write = obj.writeTokens ?? [];
    read = obj.readTokens ?? [];
    scoped = obj.tokens ?? [];
    where = file;
  } else {
    write = splitList(env.HOMELAB_REGISTRY_WRITE_TOKENS);
    read = splitList(env.HOMELAB_REGISTRY_READ_TOKENS);
    scoped = [];
    where = "environment";
  }
  const tokens = checkScoped(scoped, `${where}: tokens`);
  return { writeTokens: checkTokens(write, `${where}: writeTokens`), readTokens: checkTokens(read, `${where}: readTokens`), ...(tokens.length > 0 ? { tokens } : {}) };
}

function splitList(v: string | undefined): string[] {
  return (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function checkTokens(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((t) => typeof t === "string")) throw new InputError(`${what}: expected a list of strings`);
  for (const t of v as string[]) checkToken(t, what);
  return v as string[];
}

function checkToken(t: string, what: string): void {
  if (t.length < MIN_TOKEN || !/^[\x21-\x7e]+$/.test(t)) {
    throw new InputError(`${what}: every token must be at least ${MIN_TOKEN} printable characters without spaces (e.g. \`openssl rand -hex 24\`)`);
  }
}

function checkScoped(v: unknown, what: string): ScopedToken[] {
  if (!Array.isArray(v)) throw new InputError(`${what}: expected a list of {"token", "access", "orgs"} objects`);
  return v.map((e: unknown, i): ScopedToken => {
    const at = `${what}[${i}]`;
    if (typeof e !== "object" || e === null || Array.isArray(e)) throw new InputError(`${at}: expected an object {"token", "access", "orgs"}`);
    const o = e as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!["token", "access", "orgs", "name"].includes(key)) throw new InputError(`${at}: unknown key ${JSON.stringify(key)} (expected token, access, orgs, name)`);
    }
    if (typeof o.token !== "string") throw new InputError(`${at}.token: expected a string`);
    checkToken(o.token, `${at}.token`);
    if (o.access !== "read" && o.access !== "write") throw new InputError(`${at}.access: expected "read" or "write"`);
    let orgs: "*" | string[];
    if (o.orgs === "*") orgs = "*";
    else if (Array.isArray(o.orgs) && o.orgs.length > 0 && o.orgs.every((x) => typeof x === "string" && ORG_NAME.test(x))) orgs = o.orgs as string[];
    else throw new InputError(`${at}.orgs: expected "*" or a non-empty list of organisation names (lowercase letters, digits and '-')`);
    if (o.name !== undefined && (typeof o.name !== "string" || !/^[\x20-\x7e]{1,64}$/.test(o.name))) throw new InputError(`${at}.name: expected up to 64 printable characters`);
    return { token: o.token, access: o.access, orgs, ...(typeof o.name === "string" ? { name: o.name } : {}) };
  });
}
