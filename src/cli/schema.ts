import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("schema")
    .description("Print the JSON Schema of homelab.yaml (for editor completion and validation).")
    .action(async () => {
      const { configJsonSchema } = await import("../config/json-schema.js");
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
