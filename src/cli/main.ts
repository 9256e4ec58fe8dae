import { Command, CommanderError } from "commander";
import { HomelabError } from "../errors.js";
import { disableColour, paint } from "./colour.js";
import { examples } from "./help.js";
import { VERSION } from "../version.js";

/**
 * One module per command; each exports `register(program)`, which declares the command's
 * flags and help. Command modules stay light: heavy work (Packer, HTTP, the registry) is
 * imported inside the action, so `homelab --help` starts fast whatever the command set grows to.
 */
const COMMAND_MODULES: ReadonlyArray<() => Promise<{ register(program: Command): void }>> = [
  () => import("./init.js"),
  () => import("./validate.js"),
  () => import("./generate.js"),
  () => import("./build.js"),
  () => import("./schema.js"),
  () => import("./versions.js"),
  () => import("./box.js"),
  () => import("./builds.js"),
  () => import("./version.js"),
];

export async function main(argv: readonly string[]): Promise<number> {
  argv = commonFlags(argv);
  const program = new Command("homelab")
    .description("One homelab.yaml in, a reproducible Kubernetes node VM image out, shipped as a Vagrant box.")
    .version(VERSION, "-v, --version")
    .option("--no-color", "no colours (also when NO_COLOR is set, or output is not a terminal)")
    // Root options only before the subcommand, so `homelab box publish --version 1.2.3` is the box's version.
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: (s, write) => write(paint().red(s)) });
  for (const load of COMMAND_MODULES) (await load()).register(program);
  examples(program, ["homelab init && homelab build", "homelab validate", "homelab build --help"]);

  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

/**
 * Flags that work anywhere on the command line, taken out before commander sees them:
 * `--no-color` (every command prints), and `-V`, the old spelling of `-v`.
 */
function commonFlags(argv: readonly string[]): string[] {
  const end = argv.indexOf("--");
  const flags = end < 0 ? argv : argv.slice(0, end);
  if (flags.includes("--no-color")) disableColour();
  const kept = flags.filter((a) => a !== "--no-color").map((a, i) => (i === 2 && a === "-V" ? "-v" : a));
  return end < 0 ? kept : [...kept, ...argv.slice(end)];
}

/** Prints an error the way a user wants to read it and returns the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version exit through here with code 0; usage errors are already printed.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof HomelabError) {
    process.stderr.write(`${paint().red("homelab:")} ${err.message}\n`);
    for (const line of err.details) process.stderr.write(`  ${line}\n`);
    return err.exitCode;
  }
  process.stderr.write(`homelab: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
