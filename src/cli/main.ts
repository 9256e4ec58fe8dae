import { Command, CommanderError } from "commander";
import { HomelabError } from "../errors.js";
import { cliMessage } from "./error-text.js";
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
  () => import("./cluster.js"),
  () => import("./version.js"),
];

export async function main(argv: readonly string[]): Promise<number> {
  exitQuietlyWhenReaderLeaves();
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
 * `homelab box serve --help | head`: the reader closes the pipe before we are done writing.
 * That is the reader's choice, not a failure, so it ends the process without Node's stack
 * trace for an unhandled EPIPE (as a C program dies of SIGPIPE); other write errors still throw.
 */
function exitQuietlyWhenReaderLeaves(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount("error") > 0) continue;
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
      throw err;
    });
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
    process.stderr.write(`${paint().red("homelab:")} ${cliMessage(err)}\n`);
    for (const line of err.details) process.stderr.write(`  ${line}\n`);
    return err.exitCode;
  }
  const system = describeSystemError(err);
  if (system !== undefined) {
    process.stderr.write(`homelab: ${system.message}\n`);
    return system.exitCode;
  }
  // A bug, not something the user did: still one line; the stack only when asked for.
  const debug = process.env.HOMELAB_DEBUG === "1";
  const text = err instanceof Error ? (debug ? (err.stack ?? err.message) : err.message) : String(err);
  process.stderr.write(`homelab: unexpected error: ${debug ? text : oneLine(text)}${debug ? "" : " (HOMELAB_DEBUG=1 shows where)"}\n`);
  return 1;
}

/**
 * Node's system errors that a user causes (a port in use, a path that is a directory, an address
 * this machine does not have), as one line each. Exit 2 when the user named something wrong,
 * 1 when the machine refused (in use, no permission).
 */
const SYSTEM_ERRORS: Record<string, { exitCode: 1 | 2; says: string }> = {
  EADDRINUSE: { exitCode: 1, says: "address already in use (another program listens there; choose another --port)" },
  EADDRNOTAVAIL: { exitCode: 2, says: "this machine has no such address (choose another --host)" },
  EACCES: { exitCode: 1, says: "permission denied" },
  EPERM: { exitCode: 1, says: "operation not permitted" },
  ENOENT: { exitCode: 2, says: "no such file or directory" },
  EISDIR: { exitCode: 2, says: "is a directory" },
  ENOTDIR: { exitCode: 2, says: "a part of the path is not a directory" },
  EEXIST: { exitCode: 2, says: "already exists" },
  ENOTFOUND: { exitCode: 2, says: "no such host" },
  ENOSPC: { exitCode: 1, says: "no space left on the device" },
  EROFS: { exitCode: 1, says: "read-only file system" },
  ERR_SOCKET_BAD_PORT: { exitCode: 2, says: "expected a port from 0 to 65535" },
};

export function describeSystemError(err: unknown): { message: string; exitCode: 1 | 2 } | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string; dest?: string };
  const known = e.code === undefined ? undefined : SYSTEM_ERRORS[e.code];
  if (known === undefined) return undefined;
  const where =
    e.path !== undefined
      ? `${e.path}${e.dest !== undefined ? ` -> ${e.dest}` : ""}`
      : e.address !== undefined
        ? `${e.address}${e.port !== undefined ? `:${e.port}` : ""}`
        : e.hostname;
  const subject = where === undefined ? "" : `${printable(where)}: `;
  const action = e.syscall === undefined ? "" : ` (${e.syscall})`;
  return { message: `${subject}${known.says}${action}`, exitCode: known.exitCode };
}

/** Paths and addresses in messages: control characters (a newline, an ESC) made visible. */
function printable(s: string): string {
  return /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(s) ? JSON.stringify(s) : s;
}

function oneLine(s: string): string {
  return printable(s.split("\n")[0] ?? s);
}
