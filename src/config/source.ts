import { stat } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { InputError } from "../errors.js";
import { loadConfig, parseConfig, printablePath } from "./load.js";
import type { Config } from "./schema.js";
import { starterConfig } from "./starter.js";

/** The names a project's config may have, in the order they are looked for. */
export const CONFIG_FILE_NAMES = ["homelab.yaml", "homelab.yml"] as const;

/** What `origin` says when the embedded default was used. */
export const EMBEDDED_ORIGIN = "(embedded default)";

/** Where a config came from, for messages. */
export interface LoadedConfig {
  config: Config;
  /** The file it was read from (relative to the working directory when below it; quoted when its name has control characters), or "(embedded default)". */
  origin: string;
  /** The project directory: the config file's directory (the working directory for the default). */
  projectDir: string;
}

/** Where the search for a project's config ended. */
export interface ConfigSearch {
  /** The config file found, as an absolute path. */
  file?: string;
  /** The directories looked in, nearest first (for the message when nothing was found). */
  searched: string[];
}

async function kind(path: string): Promise<"file" | "dir" | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) return undefined;
  return st.isDirectory() ? "dir" : "file";
}

/**
 * Looks for the project's config the way git looks for `.git`: in `start`, then in each parent.
 * The search stops at the filesystem root, and after the first directory that holds a `.git`
 * (the top of a repository): a homelab.yaml above the repository belongs to another project.
 * Both homelab.yaml and homelab.yml in one directory is an error, never a silent choice.
 */
export async function findConfigFile(start: string): Promise<ConfigSearch> {
  const searched: string[] = [];
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    searched.push(dir);
    const found: string[] = [];
    for (const name of CONFIG_FILE_NAMES) {
      if ((await kind(join(dir, name))) === "file") found.push(join(dir, name));
    }
    if (found.length > 1) {
      throw new InputError(`${dir}: both ${CONFIG_FILE_NAMES.join(" and ")} exist; keep one (homelab will not guess which one you meant)`);
    }
    if (found[0] !== undefined) return { file: found[0], searched };
    if ((await kind(join(dir, ".git"))) !== undefined || dirname(dir) === dir) return { searched };
  }
}

/** A path as a user in `cwd` would type it (`homelab.yaml`, `../homelab.yaml`). */
export function displayPath(path: string, cwd: string = process.cwd()): string {
  return relative(cwd, path) || ".";
}

/** Loads the embedded default (the text `homelab init` writes). */
export function embeddedDefault(cwd: string = process.cwd()): LoadedConfig {
  return { config: parseConfig(starterConfig(), EMBEDDED_ORIGIN), origin: EMBEDDED_ORIGIN, projectDir: resolve(cwd) };
}

/** Loads a named config file. */
export async function loadConfigFile(file: string, cwd: string = process.cwd()): Promise<LoadedConfig> {
  return { config: await loadConfig(file), origin: printablePath(file), projectDir: dirname(resolve(cwd, file)) };
}

/**
 * The config a command should use: the named file, else the project's config found upward from
 * `cwd`. Returns undefined when there is none: whether the embedded default may stand in is the
 * caller's decision (the CLI only uses it when asked to).
 */
export async function resolveConfig(file: string | undefined, cwd: string = process.cwd()): Promise<LoadedConfig | undefined> {
  if (file !== undefined) return loadConfigFile(file, cwd);
  const { file: found } = await findConfigFile(cwd);
  if (found === undefined) return undefined;
  return { config: await loadConfig(displayPath(found, cwd)), origin: printablePath(displayPath(found, cwd)), projectDir: dirname(found) };
}
