import type { PackerEvent } from "../packer/machine-readable.js";

/*
 * What a build reports and the plain log the builder writes with it (one timestamped line per
 * Packer line). The terminal views (live frame, JSON lines) are the CLI's: src/cli/build-progress.ts.
 */

/** Where progress goes: `process.stderr` satisfies it (columns is set only on a TTY). */
export interface ProgressOutput {
  write(text: string): unknown;
  readonly columns?: number;
}

export interface ProgressReporter {
  /** One Packer event, as it arrives. */
  event(event: PackerEvent): void;
  /** A line from homelab itself (e.g. the accelerator fallback). */
  notice(text: string): void;
  /** Ends the live view (restores the cursor); call once, also on failure. */
  close(): void;
}

/** `2026-11-23T22:10:01Z`: to the second, UTC, the same in every log. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Plain mode: Packer's own lines, each with a timestamp and the build it belongs to. */
export function plainLines(event: PackerEvent, now: number): string[] {
  const at = stamp(now);
  switch (event.kind) {
    case "ui": {
      const text = event.text.replace(/^\n+/, "");
      return text
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => `${at} ${event.level === "error" && !event.remote ? "error " : ""}${l.trimEnd()}`);
    }
    case "artifact": {
      const a = event.artifact;
      const files = a.files.length > 0 ? ` (${a.files.join(", ")})` : "";
      return [`${at} artifact ${a.target}: ${a.description ?? a.id ?? ""}${files}`];
    }
    case "build-error":
      return [`${at} error ${event.target}: ${event.message}`];
    default:
      return [];
  }
}

export class PlainProgress implements ProgressReporter {
  constructor(
    private readonly out: ProgressOutput,
    private readonly clock: () => number = Date.now,
  ) {}

  event(event: PackerEvent): void {
    const lines = plainLines(event, this.clock());
    if (lines.length > 0) this.out.write(`${lines.join("\n")}\n`);
  }

  notice(text: string): void {
    this.out.write(`${stamp(this.clock())} ${text}\n`);
  }

  close(): void {}
}
