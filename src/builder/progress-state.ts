import type { PackerEvent } from "../packer/machine-readable.js";

/** What the user sees about one build (one source × build block in Packer's words). */
export interface BuildProgress {
  readonly name: string;
  status: "running" | "done" | "failed";
  /** The current step: the last `==> build: ...` line, and when it arrived (ms). */
  step?: { text: string; startedAt: number };
  /** The last line of script output, shown under the step so a long step is visibly alive. */
  lastOutput?: string;
  finishedAt?: number;
}

export interface ProgressState {
  readonly startedAt: number;
  /** In order of first appearance. */
  readonly builds: Map<string, BuildProgress>;
}

/** Something to print once and keep (scrolls above the live area on a TTY). */
export type ProgressNote =
  | { kind: "step-done"; build: string; text: string; elapsedMs: number }
  | { kind: "artifact"; build: string; description: string; files: readonly string[] }
  | { kind: "error"; build?: string; text: string }
  | { kind: "build-finished"; build: string; ok: boolean; elapsedMs: number };

export function initialProgress(now: number): ProgressState {
  return { startedAt: now, builds: new Map() };
}

const FINISHED = /^Build '([^']+)' (finished|errored)/;

function buildFor(state: ProgressState, name: string): BuildProgress {
  let build = state.builds.get(name);
  if (!build) {
    build = { name, status: "running" };
    state.builds.set(name, build);
  }
  return build;
}

/** Closes the current step of a build, returning the note that records its duration. */
function closeStep(build: BuildProgress, now: number): ProgressNote[] {
  if (!build.step) return [];
  const note: ProgressNote = { kind: "step-done", build: build.name, text: build.step.text, elapsedMs: now - build.step.startedAt };
  delete build.step;
  delete build.lastOutput;
  return [note];
}

/**
 * Applies one event to the state (mutating it: the state is owned by one renderer) and returns
 * what should be printed once. `now` is when the event arrived: Packer's own timestamps have a
 * resolution of one second, too coarse for step times.
 */
export function applyEvent(state: ProgressState, event: PackerEvent, now: number): ProgressNote[] {
  switch (event.kind) {
    case "ui": {
      // "Build 'x' finished after ..." is a say line, "Build 'x' errored after ...: why" an error.
      const finished = event.level !== "message" && event.build === undefined ? FINISHED.exec(event.body.trim()) : null;
      if (finished) {
        const build = buildFor(state, finished[1] as string);
        const ok = finished[2] === "finished" && build.status !== "failed";
        const notes: ProgressNote[] = closeStep(build, now);
        if (!ok) notes.push({ kind: "error", build: build.name, text: event.body.trim() });
        build.status = ok ? "done" : "failed";
        build.finishedAt = now;
        return [...notes, { kind: "build-finished", build: build.name, ok, elapsedMs: now - state.startedAt }];
      }
      if (event.build === undefined) {
        return event.level === "error" ? [{ kind: "error", text: event.body.trim() }] : [];
      }
      const build = buildFor(state, event.build);
      if (event.level === "say") {
        const notes = closeStep(build, now);
        const text = event.postProcessor ? `${event.postProcessor}: ${event.body}` : event.body;
        build.step = { text: text.trim(), startedAt: now };
        return notes;
      }
      const lines = event.body.split("\n").map((l) => l.trimEnd()).filter((l) => l.trim() !== "");
      // A script's stderr is output like its stdout: only Packer's own errors are errors.
      if (event.level === "message" || event.remote) {
        const last = lines.at(-1);
        if (last !== undefined) build.lastOutput = last.trim();
        return [];
      }
      return lines.map((text) => ({ kind: "error", build: build.name, text: text.trim() }));
    }
    case "artifact": {
      const { artifact } = event;
      buildFor(state, artifact.target);
      return [{ kind: "artifact", build: artifact.target, description: artifact.description ?? artifact.id ?? "artifact", files: artifact.files }];
    }
    case "build-error": {
      const build = buildFor(state, event.target);
      build.status = "failed";
      return [];
    }
    default:
      return [];
  }
}

/** `75_000` → `1m15s`; `4_200` → `4s`. Whole seconds: the live view ticks once a second. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}
