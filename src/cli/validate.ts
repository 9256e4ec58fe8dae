import type { Command } from "commander";
import { examples } from "./help.js";
import { configOptions, projectConfig } from "./options.js";

export function register(program: Command): void {
  const validate = configOptions(program.command("validate").description("Check homelab.yaml and report every problem at once (exit 2 when it is invalid)."))
    .action(async (opts: { config?: string; default?: boolean }) => {
      const { boxName } = await import("../naming.js");
      const { config, origin } = await projectConfig(opts);
      // What build would refuse before it starts, validate refuses too (hashing an image is build's).
      const { checkBoxVersion } = await import("../builder/preflight.js");
      await checkBoxVersion(config, origin);
      const { paint } = await import("./colour.js");
      process.stdout.write(`${origin}: ${paint(process.stdout).green("ok")} (${boxName(config)})\n`);
    });
  examples(validate, ["homelab validate", "homelab validate -c lab/homelab.yaml", "homelab validate --default"]);
}
