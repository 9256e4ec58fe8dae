import type { Command } from "commander";
import { examples } from "./help.js";

export function register(program: Command): void {
  const schema = program
    .command("schema")
    .description("Print the JSON Schema of homelab.yaml (for editor completion and validation).")
    .action(async () => {
      const { configJsonSchema } = await import("../config/json-schema.js");
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
  examples(schema, ["homelab schema > homelab.schema.json"]);
}
