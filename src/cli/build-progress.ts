import type { PackerEvent } from "../packer/machine-readable.js";
import { PlainProgress, type ProgressOutput, type ProgressReporter } from "../builder/progress.js";
import { applyEvent, formatElapsed, initialProgress, type ProgressNote, type ProgressState } from "../builder/progress-state.js";

/** The terminal views of a build's progress (live frame, JSON lines); the plain log is the library's. */

export type ProgressMode = "tty" | "plain" | "json";

/** The mode a CLI should use: `--json` wins; a live view only on a real terminal. */
export function progressMode(opts: { json?: boolean }, out: { isTTY?: boolean }): ProgressMode {
  if (opts.json) return "json";
  return out.isTTY ? "tty" : "plain";
}

const ESC = "\u001b[";

/** Cuts a line to `width` visible characters (code points), marking the cut with "…". */
export function fitWidth(text: string, width: number): string {
  const chars = [...text.replace(/[\r\n\t]/g, " ")];
  if (chars.length <= width) return chars.join("");
  if (width <= 1) return chars.slice(0, Math.max(0, width)).join("");
  return `${chars.slice(0, width - 1).join("")}…`;
}

function noteLine(note: ProgressNote): string {
  switch (note.kind) {
    case "step-done":
      return `  ✓ ${note.build}  ${note.text}  ${formatElapsed(note.elapsedMs)}`;
    case "artifact":
      return `  ⇒ ${note.build}  ${note.description}`;
    case "error":
      return `  ✗ ${note.build ?? "packer"}  ${note.text}`;
    case "build-finished":
      return note.ok
        ? `  ● ${note.build} finished after ${formatElapsed(note.elapsedMs)}`
        : `  ✗ ${note.build} failed after ${formatElapsed(note.elapsedMs)}`;
  }
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * The live area: one line per running build (spinner, total time, current step, time in step)
 * and under it the build's last line of output. Every line fits `width` so the terminal never
 * wraps (a wrapped line would break the in-place redraw).
 */
export function renderFrame(state: ProgressState, now: number, width: number, tick = 0): string[] {
  const lines: string[] = [];
  const spin = SPINNER[tick % SPINNER.length] as string;
  for (const build of state.builds.values()) {
    if (build.status !== "running") continue;
    const total = formatElapsed(now - state.startedAt);
    const step = build.step ? build.step.text : "starting";
    const inStep = build.step ? `  ${formatElapsed(now - build.step.startedAt)}` : "";
    if (width < 40) {
      // Narrow terminal: the step is what matters; drop the decoration.
      lines.push(fitWidth(`${build.name}: ${step}`, width - 1));
      continue;
    }
    const head = `${spin} ${build.name} [${total}] `;
    const room = width - 1 - [...head].length - inStep.length;
    lines.push(room >= 10 ? `${head}${fitWidth(step, room)}${inStep}` : fitWidth(`${head}${step}`, width - 1));
    if (build.lastOutput) lines.push(fitWidth(`    │ ${build.lastOutput}`, width - 1));
  }
  return lines;
}

/** JSON mode: one object per event and line, with the arrival time; raw lines included. */
export function jsonLine(event: PackerEvent, now: number): string {
  return JSON.stringify({ time: new Date(now).toISOString(), ...event });
}

export class JsonProgress implements ProgressReporter {
  constructor(
    private readonly out: ProgressOutput,
    private readonly clock: () => number = Date.now,
  ) {}

  event(event: PackerEvent): void {
    this.out.write(`${jsonLine(event, this.clock())}\n`);
  }

  notice(text: string): void {
    this.out.write(`${JSON.stringify({ time: new Date(this.clock()).toISOString(), kind: "notice", text })}\n`);
  }

  close(): void {}
}

/**
 * The live view. Lines that are final (finished steps, artifacts, errors) are printed once and
 * scroll up; the frame of running builds below them is redrawn in place. Each update is one
 * write (erase the old frame, print new notes, print the new frame), so the terminal never shows
 * a half-drawn state, and nothing is written when nothing changed.
 */
export class TtyProgress implements ProgressReporter {
  private readonly state: ProgressState;
  private frameHeight = 0;
  private lastFrame = "";
  private tick = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly clock: () => number = Date.now,
    opts: { refreshMs?: number } = {},
  ) {
    this.state = initialProgress(clock());
    this.out.write(`${ESC}?25l`); // hide the cursor while the frame moves
    if (opts.refreshMs !== 0) {
      this.timer = setInterval(() => {
        this.tick += 1;
        this.draw([]);
      }, opts.refreshMs ?? 1000);
      this.timer.unref();
    }
  }

  event(event: PackerEvent): void {
    this.draw(applyEvent(this.state, event, this.clock()).map(noteLine));
  }

  notice(text: string): void {
    this.draw([text]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.out.write(`${this.erase()}${ESC}?25h`);
    this.frameHeight = 0;
  }

  private width(): number {
    return Math.max(10, this.out.columns ?? 80);
  }

  private erase(): string {
    // Up to the first frame line, then clear everything below it.
    return this.frameHeight > 0 ? `\r${ESC}${this.frameHeight}A${ESC}0J` : "";
  }

  private draw(notes: readonly string[]): void {
    if (this.closed) return;
    const width = this.width();
    const frame = renderFrame(this.state, this.clock(), width, this.tick);
    const frameText = frame.map((l) => `${l}\n`).join("");
    if (notes.length === 0 && frameText === this.lastFrame) return;
    // Notes may wrap: they scroll away and are never redrawn, so their height does not matter.
    const noteText = notes.map((n) => `${n}\n`).join("");
    this.out.write(`${this.erase()}${noteText}${frameText}`);
    this.frameHeight = frame.length;
    this.lastFrame = frameText;
  }
}

export function createProgress(mode: ProgressMode, out: ProgressOutput, clock: () => number = Date.now): ProgressReporter {
  switch (mode) {
    case "tty":
      return new TtyProgress(out, clock);
    case "json":
      return new JsonProgress(out, clock);
    case "plain":
      return new PlainProgress(out, clock);
  }
}
