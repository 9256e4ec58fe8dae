import { Command, CommanderError } from "commander";
import { HomelabError } from "../errors.js";
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
];

export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command("homelab")
    .description("One homelab.yaml in, a reproducible Kubernetes node VM image out, shipped as a Vagrant box.")
    .version(VERSION, "-V, --version")
    // Root options only before the subcommand, so `homelab box publish --version 1.2.3` is the box's version.
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const load of COMMAND_MODULES) (await load()).register(program);

  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    return reportError(err);
  }
}

/** Prints an error the way a user wants to read it and returns the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version exit through here with code 0; usage errors are already printed.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof HomelabError) {
    process.stderr.write(`homelab: ${err.message}\n`);
    for (const line of err.details) process.stderr.write(`  ${line}\n`);
    return err.exitCode;
  }
  process.stderr.write(`homelab: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
