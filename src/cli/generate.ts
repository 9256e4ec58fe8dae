import type { Command } from "commander";
import { DEFAULT_CONFIG_FILE } from "./options.js";

export const DEFAULT_BUNDLE_DIR = "homelab-bundle";

export function register(program: Command): void {
  program
    .command("generate")
    .description(
      "Write the Packer bundle (HCL2, scripts/, http/) for homelab.yaml. The bundle is a standalone " +
        "Packer project: `packer build .` in it works without homelab. Written atomically.",
    )
    .option("-c, --config <file>", `config file (default: ./${DEFAULT_CONFIG_FILE}, else the embedded default)`)
    .option("-o, --out <dir>", "bundle directory (replaced as a whole)", DEFAULT_BUNDLE_DIR)
    .option(
      "--packer-version <version>",
      "render for this Packer version instead of the installed one (required_plugins need >= 1.7)",
    )
    .action(async (opts: { config?: string; out: string; packerVersion?: string }) => {
      const [{ resolveConfig }, { generate }, { detectPackerVersion }] = await Promise.all([
        import("../config/source.js"),
        import("../generate.js"),
        import("../packer/packer-version.js"),
      ]);
      const { config, origin } = await resolveConfig(opts.config, DEFAULT_CONFIG_FILE);
      const packerVersion = opts.packerVersion ?? (await detectPackerVersion());
      const result = await generate(config, {
        outDir: opts.out,
        ...(packerVersion === undefined ? {} : { packerVersion }),
      });
      process.stdout.write(
        `${origin}: wrote ${result.outDir}/ (${result.files.length} files) for ${result.boxName}\n` +
          `content hash sha256:${result.hash}\n`,
      );
    });
}
