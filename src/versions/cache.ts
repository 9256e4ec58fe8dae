import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../fs/atomic-write.js";
import { readRegularFile } from "../fs/read-regular.js";

/** Upstream answers are a few KiB; a bigger entry is not one homelab wrote. */
const MAX_ENTRY_BYTES = 4 << 20;

/** One cached upstream answer: the raw body, and when it was fetched. */
export interface CacheEntry {
  url: string;
  fetchedAt: number;
  body: string;
}

/**
 * `$HOMELAB_CACHE_DIR/versions`, else `$XDG_CACHE_HOME/homelab/versions`, else
 * `~/.cache/homelab/versions`. HOMELAB_CACHE_DIR names homelab's cache root (other caches may
 * live beside `versions/`).
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HOMELAB_CACHE_DIR) return join(env.HOMELAB_CACHE_DIR, "versions");
  const base = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "homelab", "versions");
}

/**
 * A tiny on-disk cache of upstream answers, one JSON file per URL. Only answers that parsed
 * are stored (a garbage answer must not be served for hours). A damaged file is a miss, and so is
 * anything that is not a regular file homelab could have written: a FIFO there must not block
 * `check` or `generate`, a symbolic link must not make them read another file.
 */
export class ResponseCache {
  constructor(readonly dir: string) {}

  async read(url: string): Promise<CacheEntry | undefined> {
    try {
      const bytes = await readRegularFile(this.file(url), MAX_ENTRY_BYTES, { noFollow: true });
      const entry = JSON.parse(bytes.toString("utf8")) as Partial<CacheEntry> | null;
      if (entry?.url !== url || !Number.isFinite(entry.fetchedAt) || typeof entry.body !== "string") return undefined;
      return entry as CacheEntry;
    } catch {
      return undefined;
    }
  }

  /** Best effort: a read-only or full disk must not turn a successful check into a failure. */
  async write(entry: CacheEntry): Promise<void> {
    try {
      await writeFileAtomic(this.file(entry.url), `${JSON.stringify(entry)}\n`);
    } catch {
      /* the cache is an optimisation */
    }
  }

  private file(url: string): string {
    return join(this.dir, `${createHash("sha256").update(url).digest("hex").slice(0, 32)}.json`);
  }
}
