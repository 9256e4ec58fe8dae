import type { Command } from "commander";
import { configOptions, projectConfig } from "./options.js";

export function register(program: Command): void {
  configOptions(program.command("validate").description("Check homelab.yaml and report every problem at once (exit 2 when it is invalid)."))
    .action(async (opts: { config?: string; default?: boolean }) => {
      const { boxName } = await import("../naming.js");
      const { config, origin } = await projectConfig(opts);
      process.stdout.write(`${origin}: ok (${boxName(config)})\n`);
    });
}
