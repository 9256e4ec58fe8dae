import type { Command } from "commander";
import { InputError } from "../errors.js";
import type { LoadedConfig } from "../config/source.js";

/** Default config file name, written by `homelab init` (homelab.yml is found too). */
export const DEFAULT_CONFIG_FILE = "homelab.yaml";

/** Help for `-c`: how the config is found when it is not named. */
export const CONFIG_HELP = `config file (default: ./${DEFAULT_CONFIG_FILE} or homelab.yml, looked for here and in parent directories up to the repository's top)`;
/** Help for `--default`. */
export const DEFAULT_HELP = "use the embedded default config (Alpine, kubeadm, libvirt; what `homelab init` writes) instead of a file";

/** Adds `-c, --config` and `--default` to a command that acts on a project's config. */
export function configOptions(command: Command): Command {
  return command.option("-c, --config <file>", CONFIG_HELP).option("--default", DEFAULT_HELP);
}

/**
 * The config a command acts on: `-c FILE`; else the project's homelab.yaml found upward from the
 * working directory (like git finds .git); the embedded default only with `--default`. No config
 * at all is a usage error that says how to get one.
 */
export async function projectConfig(opts: { config?: string; default?: boolean }, cwd: string = process.cwd()): Promise<LoadedConfig> {
  const { embeddedDefault, findConfigFile, resolveConfig } = await import("../config/source.js");
  if (opts.default) {
    if (opts.config !== undefined) throw new InputError("-c/--config and --default: choose one");
    return embeddedDefault(cwd);
  }
  const loaded = await resolveConfig(opts.config, cwd);
  if (loaded !== undefined) return loaded;
  const { searched } = await findConfigFile(cwd);
  throw new InputError(`no ${DEFAULT_CONFIG_FILE} (or homelab.yml) in ${cwd}${searched.length > 1 ? ` or its parents up to ${searched.at(-1)}` : ""}`, {
    details: [
      "`homelab init` writes a commented starter config here;",
      "`--default` uses the embedded default (Alpine, kubeadm, libvirt) without a file;",
      "`-c FILE` names a config elsewhere.",
    ],
  });
}

/** The config file a command rewrites (`versions bump`): `-c FILE`, else the project's, found upward. */
export async function configFileToEdit(file: string | undefined, cwd: string = process.cwd()): Promise<string> {
  if (file !== undefined) return file;
  const { displayPath, findConfigFile } = await import("../config/source.js");
  const found = (await findConfigFile(cwd)).file;
  if (found === undefined) throw new InputError(`no ${DEFAULT_CONFIG_FILE} (or homelab.yml) in ${cwd} or its parents (run \`homelab init\` first, or name one with -c)`);
  return displayPath(found, cwd);
}

/** Parses a positive integer flag value, or fails with a usage error naming the flag. */
export function positiveInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InputError(`${flag}: expected a positive whole number, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Parses a TCP port flag (0 = any free port), or fails with a usage error naming the flag. */
export function portNumber(flag: string): (value: string) => number {
  return (value: string) => {
    const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
    if (!(n >= 0 && n <= 65535)) throw new InputError(`${flag}: expected a port from 0 to 65535 (0: any free port), got ${JSON.stringify(value)}`);
    return n;
  };
}
