import { createWriteStream, type WriteStream } from "node:fs";
import { open } from "node:fs/promises";
import { execa } from "execa";
import { CancelledError, JobError } from "../errors.js";
import type { CancelRequest } from "./cancel.js";
import { buildArgs } from "./args.js";
import { MachineReadableParser, type PackerArtifact, type PackerEvent } from "./machine-readable.js";

export interface BuildOptions {
  /** Absolute path of the packer binary. */
  readonly packer: string;
  /** The bundle directory: packer runs there and builds `.`. */
  readonly bundleDir: string;
  /** Packer's whole stdout and stderr, line by line as they came, always written here. */
  readonly logFile: string;
  /** A human-readable log the caller writes from the events; named in messages beside logFile. */
  readonly readableLogFile?: string;
  readonly only?: readonly string[];
  readonly vars?: Readonly<Record<string, string>>;
  /** `-force`: replace existing output directories. */
  readonly force?: boolean;
  /** `-parallel-builds=N` (0 = no limit, Packer's default). */
  readonly parallelBuilds?: number;
  /**
   * Also write Packer's debug log (PACKER_LOG=1) to this file. Off by default: it is large and
   * the machine-readable stream already holds every line a user saw.
   */
  readonly debugLogFile?: string;
  /** Called for each event, in order, as soon as it is parsed. */
  readonly onEvent?: (event: PackerEvent) => void;
  readonly cancel?: CancelRequest;
  /** After the first cancel request, how long Packer may take to clean up before it is killed. */
  readonly cleanupTimeoutMs?: number;
  /** After SIGTERM to Packer's process group, how long before SIGKILL. */
  readonly killGraceMs?: number;
  /** Extra environment (tests). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface BuildResult {
  readonly artifacts: readonly PackerArtifact[];
  readonly durationMs: number;
  readonly logFile: string;
}

/** Error lines quoted in a failure: enough to see the cause, not the whole log. */
const MAX_QUOTED_ERRORS = 20;

/**
 * Appends whole lines from two streams to one log in arrival order, so stderr noise never lands
 * in the middle of a machine-readable line. Stdout bytes are written unchanged.
 */
class LineLog {
  private readonly partial = { stdout: "", stderr: "" };

  constructor(private readonly out: WriteStream) {}

  write(stream: "stdout" | "stderr", chunk: string): void {
    const text = this.partial[stream] + chunk;
    const cut = text.lastIndexOf("\n");
    if (cut < 0) {
      this.partial[stream] = text;
      return;
    }
    this.out.write(text.slice(0, cut + 1));
    this.partial[stream] = text.slice(cut + 1);
  }

  async close(): Promise<void> {
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.partial[stream] !== "") this.out.write(`${this.partial[stream]}\n`);
    }
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Runs `packer build -machine-readable` in the bundle directory, streaming typed events.
 *
 * Cancellation: packer runs in its own process group, so a Ctrl-C on the terminal reaches only
 * homelab, which forwards exactly ONE SIGINT to packer's group, as the terminal would have done
 * (Packer then stops the VM and deletes its output) and waits. The group, not the pid: Packer 1.6's
 * outer process (panicwrap) ignores SIGINT and does not pass it on to the real packer. A second cancel request, or packer still running after cleanupTimeoutMs,
 * sends SIGTERM to the whole group (packer, its plugins and qemu) and SIGKILL after killGraceMs,
 * so that no qemu is left behind. The call then rejects with CancelledError (exit 130).
 *
 * A failed build rejects with JobError quoting Packer's own error lines and naming the log file.
 */
export async function runPackerBuild(opts: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  const log = new LineLog(createWriteStream(opts.logFile, { flags: "w" }));
  const events: PackerEvent[] = [];
  const artifacts: PackerArtifact[] = [];
  const stderrTail: string[] = [];
  const parser = new MachineReadableParser();
  const deliver = (batch: PackerEvent[]): void => {
    for (const event of batch) {
      events.push(event);
      if (event.kind === "artifact") artifacts.push(event.artifact);
      opts.onEvent?.(event);
    }
  };

  const child = execa(opts.packer, buildArgs(opts), {
    cwd: opts.bundleDir,
    env: {
      CHECKPOINT_DISABLE: "1",
      PACKER_NO_COLOR: "1",
      ...(opts.debugLogFile ? { PACKER_LOG: "1", PACKER_LOG_PATH: opts.debugLogFile } : {}),
      ...opts.env,
    },
    stdin: "ignore",
    buffer: false,
    reject: false,
    detached: true,
    cleanup: false,
    forceKillAfterDelay: false,
    encoding: "buffer",
  });

  child.stdout?.on("data", (chunk: Buffer) => {
    log.write("stdout", chunk.toString("utf8"));
    deliver(parser.push(chunk));
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    log.write("stderr", text);
    for (const line of text.split("\n")) if (line.trim() !== "") stderrTail.push(line);
    if (stderrTail.length > 50) stderrTail.splice(0, stderrTail.length - 50);
  });

  const timers: NodeJS.Timeout[] = [];
  let cancelled = false;
  let escalated = false;
  const signalGroup = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  const escalate = (): void => {
    if (escalated) return;
    escalated = true;
    signalGroup("SIGTERM");
    timers.push(setTimeout(() => signalGroup("SIGKILL"), opts.killGraceMs ?? 5_000).unref());
  };
  const unsubscribe = opts.cancel?.onRequest((count) => {
    if (count === 1) {
      cancelled = true;
      signalGroup("SIGINT");
      timers.push(setTimeout(escalate, opts.cleanupTimeoutMs ?? 120_000).unref());
    } else {
      escalate();
    }
  });
  // A cancel requested before the call started still counts.
  if (opts.cancel && opts.cancel.count > 0) {
    cancelled = true;
    signalGroup("SIGINT");
    timers.push(setTimeout(escalate, opts.cleanupTimeoutMs ?? 120_000).unref());
  }

  // Packer's exit is not the end: a process it started and did not stop (shell-local scripts
  // after a cancel, a qemu after a crash) would keep its group alive, and holding our pipe, keep
  // this call waiting. Whatever is left in the group once packer itself is gone is a stray.
  await Promise.race([new Promise<void>((resolve) => child.once("exit", () => resolve())), child.then(() => undefined)]);
  unsubscribe?.();
  for (const t of timers) clearTimeout(t);
  const strays = child.pid === undefined ? false : await sweepGroup(child.pid, opts.killGraceMs ?? 5_000);
  const result = await child;
  deliver(parser.end());
  await log.close();
  await fsyncFile(opts.logFile);

  const durationMs = Date.now() - started;
  if (cancelled) {
    throw new CancelledError("build cancelled; Packer stopped its VM and removed its output", {
      details: [
        ...(escalated ? ["Packer did not stop in time and was killed with its VM"] : []),
        ...(strays ? ["stopped processes Packer left running"] : []),
        ...logLines(opts),
      ],
    });
  }
  const errorCount = events.reduce((n, e) => (e.kind === "error-count" ? e.count : n), 0);
  if (result.exitCode !== 0 || errorCount > 0) {
    throw new JobError(`packer build failed (${describeExit(result)})`, { details: [...quoteErrors(events, stderrTail), ...logLines(opts)] });
  }
  return { artifacts, durationMs, logFile: opts.logFile };
}

/** Where to read more: the readable log when there is one, and Packer's own. */
function logLines(opts: Pick<BuildOptions, "logFile" | "readableLogFile">): string[] {
  return opts.readableLogFile === undefined
    ? [`full log: ${opts.logFile}`]
    : [`full log: ${opts.readableLogFile}`, `Packer's machine-readable log: ${opts.logFile}`];
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Stops what is left of a process group: SIGTERM, then SIGKILL after graceMs. True if any was left. */
async function sweepGroup(pgid: number, graceMs: number): Promise<boolean> {
  if (!groupAlive(pgid)) return false;
  try {
    process.kill(-pgid, "SIGTERM");
  } catch {
    return true;
  }
  if (!(await waitGroupGone(pgid, graceMs))) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // gone in between
    }
    await waitGroupGone(pgid, 2_000);
  }
  return true;
}

function describeExit(result: { exitCode?: number | undefined; signal?: string | undefined; failed: boolean; shortMessage?: string | undefined }): string {
  if (result.exitCode !== undefined) return `exit ${result.exitCode}`;
  if (result.signal) return `killed by ${result.signal}`;
  return result.shortMessage ?? "did not run";
}

/**
 * The lines that explain a failure, in Packer's own words: each build's final error first (it
 * names the step that failed), then the last ui error lines (script output on stderr and the
 * like), and stderr only when Packer said nothing else (it could not even start the build).
 */
export function quoteErrors(events: readonly PackerEvent[], stderrTail: readonly string[]): string[] {
  const buildErrors = events.flatMap((e) => (e.kind === "build-error" ? [`${e.target}: ${e.message}`] : []));
  const uiErrors = events.flatMap((e) => (e.kind === "ui" && e.level === "error" ? e.text.split("\n") : []));
  const lines = [...buildErrors, ...uiErrors.slice(-MAX_QUOTED_ERRORS)].map((l) => l.trimEnd()).filter((l) => l.trim() !== "");
  const unique = [...new Set(lines)];
  if (unique.length > 0) return unique;
  return stderrTail.slice(-MAX_QUOTED_ERRORS);
}
