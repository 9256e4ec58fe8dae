import type { Command } from "commander";
import { readFile, stat } from "node:fs/promises";
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
    .option("-f, --force", `overwrite an existing config, and a ${SCHEMA_FILE} homelab did not write`)
    .action(async (opts: { config: string; force?: boolean }) => {
      const { configJsonSchema } = await import("../config/json-schema.js");
      const schema = configJsonSchema();
      const schemaFile = join(dirname(opts.config), SCHEMA_FILE);
      // Every check before either write: init writes both files or neither.
      if (!(await isDirectory(dirname(opts.config)))) {
        throw new InputError(`${opts.config}: the directory ${dirname(opts.config)} does not exist (create it first)`);
      }
      for (const path of [opts.config, schemaFile]) {
        if (await isDirectory(path)) throw new InputError(`${path} is a directory; init writes a file there`);
      }
      if (!opts.force) {
        if ((await readIfExists(opts.config)) !== undefined) {
          throw new InputError(`${opts.config} already exists (use --force to overwrite it)`);
        }
        // A schema homelab wrote (any version: same $id) is ours to refresh; any other file is not.
        const existing = await readIfExists(schemaFile);
        if (existing !== undefined && schemaId(existing) !== schema.$id) {
          throw new InputError(`${schemaFile} already exists and was not written by homelab (use --force to overwrite it)`);
        }
      }
      const { writeFileAtomic } = await import("../fs/atomic-write.js");
      await writeFileAtomic(opts.config, starterConfig());
      await writeFileAtomic(schemaFile, `${JSON.stringify(schema, null, 2)}\n`);
      process.stdout.write(`wrote ${opts.config} and ${schemaFile}\n`);
      // Builds are large and machine-specific: keep them out of the repository from the start.
      const { ensureIgnored } = await import("../fs/ignore-entry.js");
      const ignore = await ensureIgnored(dirname(opts.config), ".homelab/", "homelab's builds (homelab build)");
      if (ignore !== "present") process.stdout.write(`${ignore === "created" ? "wrote" : "added .homelab/ to"} ${join(dirname(opts.config), ".gitignore")}\n`);
    });
  examples(init, ["homelab init", "homelab init -c lab/homelab.yaml"]);
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((st) => st.isDirectory(), () => false);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    // Unreadable: something is there, and it is not ours to replace.
    if (code === "EACCES") return "";
    throw err;
  }
}

function schemaId(text: string): unknown {
  try {
    return (JSON.parse(text) as { $id?: unknown }).$id;
  } catch {
    return undefined;
  }
}
