import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE } from "./options.js";

export function register(program: Command): void {
  program
    .command("validate")
    .description("Check homelab.yaml and report every problem at once (exit 2 when it is invalid).")
    .option("-c, --config <file>", `config file (default: ./${DEFAULT_CONFIG_FILE}, else the embedded default)`)
    .action(async (opts: { config?: string }) => {
      const [{ resolveConfig }, { boxName }] = await Promise.all([import("../config/source.js"), import("../naming.js")]);
      const { config, origin } = await resolveConfig(opts.config, DEFAULT_CONFIG_FILE);
      process.stdout.write(`${origin}: ok (${boxName(config)})\n`);
    });
}
