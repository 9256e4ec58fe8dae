import type { Command } from "commander";
import { access, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SCHEMA_FILE, starterConfig } from "../config/starter.js";
import { InputError } from "../errors.js";
import { examples } from "./help.js";
import { DEFAULT_CONFIG_FILE } from "./options.js";

export function register(program: Command): void {
  const init = program
    .command("init")
    .description(`Write a commented starter ${DEFAULT_CONFIG_FILE} and its JSON Schema (${SCHEMA_FILE}).`)
    .option("-c, --config <file>", "where to write the config", DEFAULT_CONFIG_FILE)
    .option("-f, --force", "overwrite an existing config")
    .action(async (opts: { config: string; force?: boolean }) => {
      if (!opts.force && (await exists(opts.config))) {
        throw new InputError(`${opts.config} already exists (use --force to overwrite it)`);
      }
      const { configJsonSchema } = await import("../config/json-schema.js");
      await writeFile(opts.config, starterConfig());
      await writeFile(join(dirname(opts.config), SCHEMA_FILE), `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      process.stdout.write(`wrote ${opts.config} and ${join(dirname(opts.config), SCHEMA_FILE)}\n`);
      // Builds are large and machine-specific: keep them out of the repository from the start.
      const { ensureIgnored } = await import("../fs/ignore-entry.js");
      const ignore = await ensureIgnored(dirname(opts.config), ".homelab/", "homelab's builds (homelab build)");
      if (ignore !== "present") process.stdout.write(`${ignore === "created" ? "wrote" : "added .homelab/ to"} ${join(dirname(opts.config), ".gitignore")}\n`);
    });
  examples(init, ["homelab init", "homelab init -c lab/homelab.yaml"]);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
