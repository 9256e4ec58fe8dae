import type { DriftReport, PinReport } from "./drift.js";

/** The `homelab versions check` table: one row per pin, then problems and notes. */
export function renderReport(report: DriftReport): string {
  const header = ["pin", "pinned", "newest patch", "newest stable", "verdict"];
  const rows = report.pins.map((p) => [p.pin, p.pinned, p.newestPatch ?? "?", p.newestStable ?? "?", p.verdict]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const out = [line(header), ...rows.map(line)];
  for (const p of report.pins) if (p.why) out.push(`  ${p.pin}: ${p.why}`);
  for (const problem of report.problems) out.push(`problem: ${problem}`);
  for (const note of report.notes) out.push(`note: ${note}`);
  return `${out.join("\n")}\n`;
}

/** One line per pin that needs attention: what `generate` and `build` print as warnings. */
export function driftLines(report: DriftReport): string[] {
  return [...report.pins.flatMap(pinLine), ...report.problems];
}

function pinLine(p: PinReport): string[] {
  const what = `${p.pin} ${p.pinned}`;
  switch (p.verdict) {
    case "current":
      return [];
    case "patch behind":
      // A why replaces the advice: a pin that is not in homelab.yaml says how it moves instead.
      return [`${what} is a patch behind: ${p.why ?? `${p.newestPatch} is out (run \`homelab versions bump --patch\`)`}`];
    case "minor behind":
      return [`${what} is a minor behind: ${p.why ?? `the newest stable is ${p.newestStable} (run \`homelab versions bump --minor\`)`}`];
    case "unsupported":
      return [`${what} is unsupported: ${p.why}${p.newestStable ? `; the newest stable is ${p.newestStable}` : ""} (run \`homelab versions bump --minor\`)`];
    case "not upstream":
      return [`${what} does not exist upstream: ${p.why}`];
    case "unchecked":
      return [`${p.pin}: ${p.why}`];
  }
}
