import type { Command } from "commander";
import { configJsonSchema } from "../config/json-schema.js";

export function register(program: Command): void {
  program
    .command("schema")
    .description("Print the JSON Schema of homelab.yaml (for editor completion and validation).")
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
