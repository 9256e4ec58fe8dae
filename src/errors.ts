/**
 * Every user-facing failure is a HomelabError. The exit code tells scripts what went wrong:
 * 2 = bad usage or bad input (the user must change something), 1 = the job itself failed.
 */
export class HomelabError extends Error {
  readonly exitCode: 1 | 2 | 130;
  /** Extra lines printed under the message (one problem per line). */
  readonly details: readonly string[];
  /** What the error is about, as data, for a caller that words the way out in its own terms. */
  readonly kind: ErrorKind | undefined;

  constructor(message: string, opts: ErrorOptions & { exitCode?: 1 | 2 | 130 } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? 1;
    this.details = opts.details ?? [];
    this.kind = opts.kind;
  }
}

/**
 * Errors whose way out is an option of the caller's: the library says what happened and the kind;
 * the CLI (src/cli/error-text.ts) names its flags.
 * - `exists`: the thing is already there; replacing it is allowed on request (`force`).
 * - `stored-checksum-differs`: a registry kept other bytes than were sent; publishing again
 *   with replacement allowed repairs it.
 * - `token-needed`: a registry write without a token.
 * - `architecture-needs-provider`: an architecture was given without a provider, over HTTP.
 */
export type ErrorKind = "exists" | "stored-checksum-differs" | "token-needed" | "architecture-needs-provider";

interface ErrorOptions {
  details?: readonly string[];
  cause?: unknown;
  kind?: ErrorKind;
}

/** Bad input: a config, a flag, a file that is not what it claims to be. Exit code 2. */
export class InputError extends HomelabError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, { ...opts, exitCode: 2 });
  }
}

/** The job failed (Packer failed, a download failed, a conflict in the registry). Exit code 1. */
export class JobError extends HomelabError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, { ...opts, exitCode: 1 });
  }
}

/**
 * The user interrupted the job (SIGINT/SIGTERM) and it stopped cleanly. Exit code 130, what a
 * shell reports for a command ended by Ctrl-C, so scripts can tell "cancelled" from "failed".
 */
export class CancelledError extends HomelabError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, { ...opts, exitCode: 130 });
  }
}
