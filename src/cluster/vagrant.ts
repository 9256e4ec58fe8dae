import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import type { CancelRequest } from "../packer/cancel.js";
import { runProcess, type ProcessResult } from "./process.js";
import { UP_LOG } from "./cluster-dir.js";

/** A machine's state as `vagrant status --machine-readable` says it (running, shutoff, not_created ...). */
export type MachineStates = Map<string, string>;

/**
 * `vagrant` in a cluster's directory. Its output goes to up.log there (a person reads it when a
 * phase fails); nothing here decides anything, the caller does.
 */
export class VagrantProject {
  constructor(
    readonly dir: string,
    private readonly opts: { env?: NodeJS.ProcessEnv; cancel?: CancelRequest; vagrant?: string } = {},
  ) {}

  async run(args: readonly string[], timeoutMs?: number): Promise<ProcessResult> {
    const log = join(this.dir, UP_LOG);
    await appendFile(log, `\n$ vagrant ${args.join(" ")}\n`);
    const lines: string[] = [];
    const r = await runProcess(this.opts.vagrant ?? "vagrant", args, {
      cwd: this.dir,
      env: { VAGRANT_CHECKPOINT_DISABLE: "1", ...(this.opts.env ?? process.env) },
      ...(this.opts.cancel ? { cancel: this.opts.cancel } : {}),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      onLine: (l) => lines.push(l),
    });
    await appendFile(log, `${lines.join("\n")}\n(exit ${r.code})\n`);
    return r;
  }

  /** Brings every machine up, at the same time (vagrant-libvirt supports parallel machines). */
  up(): Promise<ProcessResult> {
    return this.run(["up", "--provider", "libvirt", "--parallel"]);
  }

  async status(): Promise<MachineStates | { error: string }> {
    const r = await this.run(["status", "--machine-readable"], 120_000);
    if (r.code !== 0) return { error: lastLines(r.stderr || r.stdout) };
    const states: MachineStates = new Map();
    for (const line of r.stdout.split("\n")) {
      const [, target, type, data] = line.split(",");
      if (type === "state" && target && data) states.set(target, data);
    }
    return states;
  }

  sshConfig(): Promise<ProcessResult> {
    return this.run(["ssh-config"], 120_000);
  }

  destroy(): Promise<ProcessResult> {
    return this.run(["destroy", "-f"]);
  }
}

export function lastLines(text: string, n = 8): string {
  return text.trim().split("\n").slice(-n).join("\n");
}
