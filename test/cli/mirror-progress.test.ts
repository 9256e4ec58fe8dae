import { describe, expect, it } from "vitest";
import { mirrorView, resultLine, summaryText } from "../../src/cli/mirror-progress.js";
import type { ItemResult, MirrorItem, MirrorSummary } from "../../src/mirror/mirror.js";

const item: MirrorItem = { id: "acme/node@1.0.0 libvirt/amd64", box: "acme/node", version: "1.0.0", provider: "libvirt", architecture: "amd64", url: "http://127.0.0.1:1/x.box" };
const copied: ItemResult = { ...item, state: "copied", bytes: 3 << 20, received: 2 << 20, resumedFrom: 1 << 20, attempts: 2, ms: 1500 };

function sink(isTTY: boolean, columns = 60) {
  const chunks: string[] = [];
  return { out: { isTTY, columns, write: (s: string) => chunks.push(s) }, text: () => chunks.join("") };
}

describe("box mirror views", () => {
  it("on a terminal: files in flight are redrawn in place below the finished lines, each within the width", () => {
    const { out, text } = sink(true, 50);
    let now = 0;
    const view = mirrorView("tty", out, () => now);
    view.event({ kind: "plan", items: [item], notes: [], sourceFailures: [] });
    view.event({ kind: "start", item });
    now = 1000;
    view.event({ kind: "progress", item, bytes: 1 << 20, total: 4 << 20 });
    view.event({ kind: "retry", item, attempt: 1, reason: "503" }); // draws the frame with the progress
    view.event({ kind: "done", result: copied });
    view.close();
    const t = text().replace(/\u001b\[\d+m/g, ""); // colours (a terminal gets them) aside
    expect(t.startsWith("\u001b[?25l")).toBe(true);
    expect(t.endsWith("\u001b[?25h")).toBe(true);
    expect(t).toContain("  ↓ acme/node@1.0.0 libvirt/amd64 25% 1.0 MiB");
    expect(t).toMatch(/\r\u001b\[2A\u001b\[0J/); // the two-line frame (file + count) erased before a redraw
    expect(t).toContain("copied   acme/node@1.0.0 libvirt/amd64  3.0 MiB in 1.5 s, resumed at 1.0 MiB, 2 attempts");
    for (const line of t.split("\n").filter((l) => l.includes("↓"))) expect([...line.replace(/\u001b\[[0-9;?]*[A-Za-z]|\r/g, "")].length).toBeLessThanOrEqual(49);
  });

  it("on a pipe: one plain line per finished file and per retry, no escapes", () => {
    const { out, text } = sink(false);
    const view = mirrorView("plain", out);
    view.event({ kind: "plan", items: [item, { ...item, id: "acme/tools@1.0.0 libvirt/amd64", box: "acme/tools" }], notes: [{ name: "acme/node", version: "2.0.0", why: "unreleased" }], sourceFailures: [{ source: "acme/gone", reason: "GET x: 404" }] });
    view.event({ kind: "start", item });
    view.event({ kind: "progress", item, bytes: 5 });
    view.event({ kind: "retry", item, attempt: 1, reason: "GET x: 503" });
    view.event({ kind: "done", result: copied });
    view.close();
    expect(text()).toBe(
      "2 file(s) of 2 box(es) at the source; 1 unreleased version(s) left out\n" +
        "failed   acme/gone: cannot read it: GET x: 404\n" +
        "retry    acme/node@1.0.0 libvirt/amd64 (attempt 2): GET x: 503\n" +
        "copied   acme/node@1.0.0 libvirt/amd64  3.0 MiB in 1.5 s, resumed at 1.0 MiB, 2 attempts\n",
    );
  });

  it("the summary: counts, sizes, throughput, and every failure with its reason", () => {
    const failed: ItemResult = { ...item, id: "acme/x@1.0.0 libvirt/amd64", state: "failed", reason: "hashes to …", bytes: 0, received: 0, resumedFrom: 0, attempts: 1, ms: 1 };
    const s: MirrorSummary = {
      descriptions: [],
      dryRun: false,
      target: "reg",
      results: [copied, failed],
      notes: [],
      sourceFailures: [{ source: "acme/gone", reason: "GET x: 404" }],
      copied: { count: 1, bytes: 3 << 20 },
      skipped: { count: 0, bytes: 0 },
      failed: { count: 2 },
      wouldCopy: { count: 0 },
      received: 2 << 20,
      elapsedMs: 2000,
      bytesPerSecond: 1 << 20,
    };
    expect(summaryText(s)).toBe("copied 1 (3.0 MiB), skipped 0 (0 B), failed 2 in 2.0 s; 2.0 MiB received at 1.0 MiB/s\nfailed:\n  acme/gone: cannot read it: GET x: 404\n  acme/x@1.0.0 libvirt/amd64: hashes to …\n");
    expect(resultLine({ ...failed })).toBe("failed   acme/x@1.0.0 libvirt/amd64: hashes to …");
  });
});
