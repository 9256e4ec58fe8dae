import { InputError } from "../errors.js";

/** A variable name Packer accepts; anything else is refused before it reaches the command line. */
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Build names and globs for -only (`qemu.node`, `*.node`). */
const ONLY_NAME = /^[A-Za-z0-9_.*-]+$/;

/**
 * The `-only` and `-var` arguments. Values go to packer as separate argv entries (no shell), and
 * `-var k=v` takes `v` literally for string variables; names are still checked so that a value
 * can never be mistaken for a flag or another variable.
 */
export function selectionArgs(opts: { only?: readonly string[]; vars?: Readonly<Record<string, string>> }): string[] {
  const args: string[] = [];
  if (opts.only && opts.only.length > 0) {
    for (const name of opts.only) {
      if (!ONLY_NAME.test(name)) {
        throw new InputError(`--only: '${name}' is not a build name`, {
          details: ["expected a build name such as qemu.node (letters, digits, '.', '_', '-', '*')"],
        });
      }
    }
    args.push(`-only=${opts.only.join(",")}`);
  }
  for (const [name, value] of Object.entries(opts.vars ?? {})) {
    if (!VAR_NAME.test(name)) {
      throw new InputError(`packer variable name '${name}' is not valid`, {
        details: ["expected letters, digits, '_' or '-', starting with a letter or '_'"],
      });
    }
    if (value.includes("\n")) {
      throw new InputError(`packer variable '${name}': the value must be a single line`);
    }
    args.push("-var", `${name}=${value}`);
  }
  return args;
}

/** The arguments of `packer build` for these options (validated: throws InputError). */
export function buildArgs(opts: {
  only?: readonly string[];
  vars?: Readonly<Record<string, string>>;
  force?: boolean;
  parallelBuilds?: number;
}): string[] {
  if (opts.parallelBuilds !== undefined && !(Number.isInteger(opts.parallelBuilds) && opts.parallelBuilds >= 0)) {
    throw new InputError(`--parallel: expected a whole number >= 0, got ${opts.parallelBuilds}`);
  }
  return [
    "build",
    "-machine-readable",
    "-color=false",
    // Never "ask": nobody can answer on a closed stdin. cleanup deletes the VM and its disk.
    "-on-error=cleanup",
    ...(opts.force ? ["-force"] : []),
    ...(opts.parallelBuilds === undefined ? [] : [`-parallel-builds=${opts.parallelBuilds}`]),
    ...selectionArgs(opts),
    ".",
  ];
}

