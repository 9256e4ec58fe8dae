import { access } from "node:fs/promises";
import { loadConfig, parseConfig, printablePath } from "./load.js";
import type { Config } from "./schema.js";
import { starterConfig } from "./starter.js";

/** Where a config came from, for messages. */
export interface LoadedConfig {
  config: Config;
  /** The file it was read from (quoted when its name has control characters), or "(embedded default)". */
  origin: string;
}

/**
 * Loads the config a command should use: the named file; else ./homelab.yaml when present;
 * else the embedded default (the same text `homelab init` writes).
 */
export async function resolveConfig(file: string | undefined, defaultFile: string): Promise<LoadedConfig> {
  if (file !== undefined) return { config: await loadConfig(file), origin: printablePath(file) };
  try {
    await access(defaultFile);
    return { config: await loadConfig(defaultFile), origin: printablePath(defaultFile) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return { config: parseConfig(starterConfig(), "(embedded default)"), origin: "(embedded default)" };
}
