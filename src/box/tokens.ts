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

/** Server access configuration: who may upload, and whether reads need a token. */
export interface AccessConfig {
  /** Tokens allowed to PUT and DELETE. None: uploads are refused. */
  readonly writeTokens: readonly string[];
  /** When non-empty, reads need one of these (or a write token). Empty: anonymous reads. */
  readonly readTokens: readonly string[];
}

const MIN_TOKEN = 16;

/**
 * Reads the access config from a JSON file (`{"writeTokens": [...], "readTokens": [...]}`),
 * else from HOMELAB_REGISTRY_WRITE_TOKENS / HOMELAB_REGISTRY_READ_TOKENS (comma-separated).
 */
export async function loadAccessConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<AccessConfig> {
  let write: unknown;
  let read: unknown;
  let where: string;
  if (file !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, "utf8"));
    } catch (err) {
      throw new InputError(`${file}: cannot read the registry config: ${(err as Error).message}`);
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new InputError(`${file}: expected a JSON object {"writeTokens": [...], "readTokens": [...]}`);
    const obj = raw as Record<string, unknown>;
    for (const key of Object.keys(obj)) {
      if (key !== "writeTokens" && key !== "readTokens") throw new InputError(`${file}: unknown key ${JSON.stringify(key)} (expected writeTokens, readTokens)`);
    }
    write = obj.writeTokens ?? [];
    read = obj.readTokens ?? [];
    where = file;
  } else {
    write = splitList(env.HOMELAB_REGISTRY_WRITE_TOKENS);
    read = splitList(env.HOMELAB_REGISTRY_READ_TOKENS);
    where = "environment";
  }
  return { writeTokens: checkTokens(write, `${where}: writeTokens`), readTokens: checkTokens(read, `${where}: readTokens`) };
}

function splitList(v: string | undefined): string[] {
  return (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function checkTokens(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((t) => typeof t === "string")) throw new InputError(`${what}: expected a list of strings`);
  for (const t of v as string[]) {
    if (t.length < MIN_TOKEN || !/^[\x21-\x7e]+$/.test(t)) {
      throw new InputError(`${what}: every token must be at least ${MIN_TOKEN} printable characters without spaces (e.g. \`openssl rand -hex 24\`)`);
    }
  }
  return v as string[];
}
