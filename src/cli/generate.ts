import type { Command } from "commander";
import { InputError } from "../errors.js";
import { examples } from "./help.js";
import { CONFIG_HELP, DEFAULT_HELP, projectConfig } from "./options.js";

export const DEFAULT_BUNDLE_DIR = "homelab-bundle";

export function register(program: Command): void {
  const generate = program
    .command("generate")
    .description(
      "Write the Packer bundle (HCL2, scripts/, http/) for homelab.yaml. The bundle is a standalone " +
        "Packer project: `packer build .` in it works without homelab. homelab writes only into a " +
        "missing or empty directory, or one it wrote before (marked by .homelab-bundle), and then " +
        "replaces only its own files: Packer's output/, output-vm/, packer_cache/ and your files stay.",
    )
    .option("-c, --config <file>", CONFIG_HELP)
    .option("--default", DEFAULT_HELP)
    .option("-o, --out <dir>", "bundle directory (missing, empty, or a bundle homelab wrote)", DEFAULT_BUNDLE_DIR)
    .option(
      "--packer-version <version>",
      "render for this Packer version instead of the installed one (required_plugins need >= 1.7)",
    )
    .option("--no-version-check", "do not warn about pins that drift behind upstream (also HOMELAB_NO_VERSION_CHECK=1)")
    .action(async (opts: { config?: string; default?: boolean; out: string; packerVersion?: string; versionCheck: boolean }) => {
      if (opts.packerVersion !== undefined && !/^v?\d+\.\d+\.\d+\S*$/.test(opts.packerVersion)) {
        throw new InputError(`--packer-version: expected a version like 1.6.6, got ${JSON.stringify(opts.packerVersion)}`);
      }
      // Render for the installed Packer (asked while the config loads); without one, for a
      // current Packer (plugins pinned).
      const detected =
        opts.packerVersion === undefined
          ? import("../packer/locate.js").then(({ findPacker, queryPackerVersion }) =>
              findPacker().then(queryPackerVersion, () => undefined),
            )
          : Promise.resolve(undefined);
      const { generate } = await import("../generate.js");
      const { config, origin } = await projectConfig(opts);
      // The drift check is cache-first and time-boxed; it runs beside generation, never fails it.
      const warnings = opts.versionCheck
        ? import("../versions/warnings.js").then(({ driftWarnings }) => driftWarnings(config))
        : Promise.resolve([]);
      const packerVersion = opts.packerVersion ?? (await detected)?.version?.text;
      const { NotOwnedDirError } = await import("../fs/owned-dir.js");
      const result = await generate(config, {
        outDir: opts.out,
        ...(packerVersion === undefined ? {} : { packerVersion }),
      }).catch((err: unknown) => {
        if (err instanceof NotOwnedDirError) {
          throw new InputError(err.message, {
            details: [...err.details, `choose a new directory with -o (the default is ./${DEFAULT_BUNDLE_DIR})`],
          });
        }
        throw err;
      });
      const { paint } = await import("./colour.js");
      for (const line of await warnings) process.stderr.write(`${paint().yellow(`warning: ${line}`)}\n`);
      process.stdout.write(
        `${origin}: ${paint(process.stdout).green("wrote")} ${result.outDir}/ (${result.files.length} files) for ${result.boxName}\n` +
          `content hash sha256:${result.hash}\n`,
      );
    });
  examples(generate, ["homelab generate", "homelab generate -o bundle && cd bundle && packer build .", "homelab generate --default --packer-version 1.11.2"]);
}
