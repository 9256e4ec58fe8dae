import type { ItemResult, MirrorEvent, MirrorItem, MirrorSummary } from "../mirror/mirror.js";
import { fitWidth, type ProgressMode } from "./build-progress.js";
import { paint } from "./colour.js";
import { formatSize } from "./format.js";

/**
 * How `homelab box mirror` shows its work: on a terminal, finished files scroll up as lines and
 * the files in flight are redrawn below them (one write per update, like the build's view);
 * otherwise one plain line per finished file (and per retry); with --json one JSON object per
 * event. The library gives events; the wording lives here.
 */
export interface MirrorView {
  event(e: MirrorEvent): void;
  close(): void;
}

interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function mirrorView(mode: ProgressMode, out: Out, clock: () => number = Date.now): MirrorView {
  if (mode === "json") return { event: (e) => jsonEvent(out, e, clock()), close: () => {} };
  if (mode === "plain") return { event: (e) => plainEvent(out, e), close: () => {} };
  return new TtyMirrorView(out, clock);
}

function jsonEvent(out: Out, e: MirrorEvent, now: number): void {
  const time = new Date(now).toISOString();
  if (e.kind === "plan") out.write(`${JSON.stringify({ time, kind: "plan", files: e.items.length, notes: e.notes, sourceFailures: e.sourceFailures })}\n`);
  else if (e.kind === "start") out.write(`${JSON.stringify({ time, kind: "start", file: e.item.id, url: e.item.url })}\n`);
  else if (e.kind === "retry") out.write(`${JSON.stringify({ time, kind: "retry", file: e.item.id, attempt: e.attempt, reason: e.reason })}\n`);
  else if (e.kind === "done") out.write(`${JSON.stringify({ time, kind: "done", ...e.result })}\n`);
  // progress: too many for a log; `done` carries the sizes.
}

export function resultLine(r: ItemResult, colour: { red(s: string): string; green(s: string): string; yellow(s: string): string } = plainColour): string {
  switch (r.state) {
    case "copied": {
      const resumed = r.resumedFrom > 0 ? `, resumed at ${formatSize(r.resumedFrom)}` : "";
      const retries = r.attempts > 1 ? `, ${r.attempts} attempts` : "";
      return `${colour.green("copied")}   ${r.id}  ${formatSize(r.bytes)} in ${seconds(r.ms)}${resumed}${retries}`;
    }
    case "skipped":
      return `skipped  ${r.id}  ${formatSize(r.bytes)} (${r.reason ?? "present"})`;
    case "would-copy":
      return `would copy  ${r.id}  ${r.url}${r.reason ? ` (${r.reason})` : ""}`;
    case "failed":
      return `${colour.red("failed")}   ${r.id}: ${r.reason ?? "failed"}`;
  }
}

const plainColour = { red: (s: string) => s, green: (s: string) => s, yellow: (s: string) => s };

function plainEvent(out: Out, e: MirrorEvent): void {
  if (e.kind === "plan") {
    out.write(planLine(e.items, e.notes.length));
    for (const f of e.sourceFailures) out.write(`${sourceFailureLine(f)}\n`);
  }
  else if (e.kind === "retry") out.write(`retry    ${e.item.id} (attempt ${e.attempt + 1}): ${e.reason}\n`);
  else if (e.kind === "done") out.write(`${resultLine(e.result)}\n`);
}

function sourceFailureLine(f: { source: string; reason: string }, colour = plainColour): string {
  return `${colour.red("failed")}   ${f.source}: cannot read it: ${f.reason}`;
}

function planLine(items: readonly MirrorItem[], notes: number): string {
  const boxes = new Set(items.map((i) => i.box)).size;
  return `${items.length} file(s) of ${boxes} box(es) at the source${notes > 0 ? `; ${notes} unreleased version(s) left out` : ""}\n`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The summary printed at the end (every mode but --json, which prints the summary object). */
export function summaryText(s: MirrorSummary, colour = plainColour): string {
  const lines: string[] = [];
  if (s.dryRun) {
    lines.push(`dry run: ${s.wouldCopy.count} to copy, ${s.skipped.count} already present (${formatSize(s.skipped.bytes)}), ${s.failed.count} cannot be copied; nothing was written`);
  } else {
    const rate = `${formatSize(s.bytesPerSecond)}/s`;
    lines.push(
      `${colour.green(`copied ${s.copied.count}`)} (${formatSize(s.copied.bytes)}), skipped ${s.skipped.count} (${formatSize(s.skipped.bytes)}), ` +
        `${s.failed.count > 0 ? colour.red(`failed ${s.failed.count}`) : "failed 0"} in ${seconds(s.elapsedMs)}; ${formatSize(s.received)} received at ${rate}`,
    );
  }
  const failed = s.results.filter((r) => r.state === "failed");
  if (failed.length + s.sourceFailures.length > 0) {
    lines.push("failed:");
    for (const f of s.sourceFailures) lines.push(`  ${f.source}: cannot read it: ${f.reason}`);
    for (const r of failed) lines.push(`  ${r.id}: ${r.reason ?? "failed"}`);
  }
  for (const n of s.notes) lines.push(`left out: ${n.name}@${n.version}: ${n.why}`);
  const set = s.descriptions.filter((d) => d.state === "set");
  if (set.length > 0) lines.push(`descriptions set: ${set.map((d) => (d.version === undefined ? d.box : `${d.box}@${d.version}`)).join(", ")}`);
  for (const d of s.descriptions.filter((x) => x.state !== "set")) lines.push(`description ${d.state}: ${d.version === undefined ? d.box : `${d.box}@${d.version}`}: ${d.reason ?? ""}`);
  return `${lines.join("\n")}\n`;
}

const ESC = "\u001b[";

/** The live view: finished files as lines above, the files in flight (size, percent, rate) redrawn below. */
class TtyMirrorView implements MirrorView {
  private readonly running = new Map<string, { item: MirrorItem; bytes: number; total?: number; since: number }>();
  private frameHeight = 0;
  private closed = false;
  private total = 0;
  private finished = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly colour;

  constructor(
    private readonly out: Out,
    private readonly clock: () => number,
  ) {
    this.colour = paint(out);
    this.out.write(`${ESC}?25l`);
    this.timer = setInterval(() => this.draw([]), 500);
    this.timer.unref();
  }

  event(e: MirrorEvent): void {
    if (e.kind === "plan") {
      this.total = e.items.length;
      return this.draw([planLine(e.items, e.notes.length).trimEnd(), ...e.sourceFailures.map((f) => sourceFailureLine(f, this.colour))]);
    }
    if (e.kind === "start") {
      this.running.set(e.item.id, { item: e.item, bytes: 0, since: this.clock() });
      return this.draw([]);
    }
    if (e.kind === "progress") {
      const r = this.running.get(e.item.id);
      if (r) {
        r.bytes = e.bytes;
        if (e.total !== undefined) r.total = e.total;
      }
      return; // drawn by the timer: progress comes faster than a terminal needs
    }
    if (e.kind === "retry") return this.draw([`retry    ${e.item.id} (attempt ${e.attempt + 1}): ${e.reason}`]);
    this.running.delete(e.result.id);
    this.finished++;
    this.draw([resultLine(e.result, this.colour)]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.out.write(`${this.erase()}${ESC}?25h`);
  }

  private erase(): string {
    return this.frameHeight > 0 ? `\r${ESC}${this.frameHeight}A${ESC}0J` : "";
  }

  private draw(notes: string[]): void {
    if (this.closed) return;
    const width = Math.max(20, this.out.columns ?? 80) - 1;
    const now = this.clock();
    const frame = [...this.running.values()].map((r) => {
      const pct = r.total ? ` ${Math.floor((r.bytes / r.total) * 100)}%` : "";
      const rate = r.bytes / Math.max((now - r.since) / 1000, 0.001);
      return fitWidth(`  ↓ ${r.item.id}${pct} ${formatSize(r.bytes)} ${formatSize(rate)}/s`, width);
    });
    if (this.total > 0) frame.push(fitWidth(`  ${this.finished}/${this.total} done`, width));
    const text = notes.map((n) => `${n}\n`).join("") + frame.map((l) => `${l}\n`).join("");
    this.out.write(`${this.erase()}${text}`);
    this.frameHeight = frame.length;
  }
}
