import { spawn } from "node:child_process";
import type { CancelRequest } from "../packer/cancel.js";

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The process was stopped because cancellation was requested. */
  cancelled: boolean;
}

export interface RunProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  cancel?: CancelRequest;
  /** Each line of output as it comes (Vagrant's `\r` progress lines become lines). */
  onLine?: (line: string) => void;
  timeoutMs?: number;
}

/**
 * Runs a program to its end and never throws for its exit code. On a cancellation request it
 * passes SIGINT on (Vagrant then stops what it does and cleans up, as after Ctrl-C in a
 * terminal); a second request, or the process still running 60 s later, is a SIGKILL.
 */
export function runProcess(cmd: string, args: readonly string[], opts: RunProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let cancelled = false;
    let partial = "";
    const lines = (d: string) => {
      if (!opts.onLine) return;
      partial += d.replace(/\r(?!\n)/g, "\n");
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const l of parts) opts.onLine(l);
    };
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      lines(d.toString());
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      lines(d.toString());
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
    let hardKill: NodeJS.Timeout | undefined;
    const stop = opts.cancel?.onRequest((count) => {
      cancelled = true;
      child.kill(count > 1 ? "SIGKILL" : "SIGINT");
      hardKill ??= setTimeout(() => child.kill("SIGKILL"), 60_000);
    });
    if (opts.cancel !== undefined && opts.cancel.count > 0) {
      cancelled = true;
      child.kill("SIGINT");
    }
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs);
    const done = (code: number, extra = "") => {
      clearTimeout(timer);
      clearTimeout(hardKill);
      stop?.();
      if (partial && opts.onLine) opts.onLine(partial);
      resolve({ code, stdout, stderr: stderr + extra, cancelled });
    };
    child.on("error", (err) => done(127, err.message));
    child.on("close", (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

/** A word for a POSIX shell command line: single-quoted unless it is plainly safe. */
export function shq(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(words: readonly string[]): string {
  return words.map(shq).join(" ");
}
