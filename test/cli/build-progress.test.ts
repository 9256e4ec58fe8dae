import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PlainProgress, plainLines } from "../../src/builder/progress.js";
import { JsonProgress, fitWidth, progressMode, renderFrame, TtyProgress } from "../../src/cli/build-progress.js";
import { applyEvent, formatElapsed, initialProgress, type ProgressNote } from "../../src/builder/progress-state.js";
import { parseMachineReadable, type PackerEvent } from "../../src/packer/machine-readable.js";

const recorded = (name: string): PackerEvent[] =>
  parseMachineReadable(readFileSync(fileURLToPath(new URL(`../fixtures/packer/${name}`, import.meta.url)), "utf8"));

/** Replays events with Packer's own timestamps as the arrival clock (seconds → ms). */
function replay(events: readonly PackerEvent[]): { notes: ProgressNote[]; state: ReturnType<typeof initialProgress> } {
  const first = events.find((e) => e.kind !== "other");
  const t0 = first && "timestamp" in first ? first.timestamp * 1000 : 0;
  const state = initialProgress(t0);
  const notes: ProgressNote[] = [];
  for (const e of events) notes.push(...applyEvent(state, e, "timestamp" in e ? e.timestamp * 1000 : t0));
  return { notes, state };
}

/** A fake terminal that records writes and applies the cursor movements the live view uses. */
class FakeTerminal {
  writes: string[] = [];
  screen: string[] = [];
  private row = 0;
  constructor(public columns: number) {}
  write(text: string): void {
    this.writes.push(text);
    // The subset of ANSI the renderer emits: \r, ESC[nA (up), ESC[0J (clear below), ESC[?25l/h.
    const re = /\r|\n|\u001b\[(\d*)A|\u001b\[0J|\u001b\[\?25[lh]|[^\r\n\u001b]+/g;
    for (const m of text.matchAll(re)) {
      const tok = m[0];
      if (tok === "\n") this.row += 1;
      else if (tok === "\r" || tok.startsWith("\u001b[?25")) continue;
      else if (tok.endsWith("A")) this.row -= Number(m[1] || 1);
      else if (tok === "\u001b[0J") this.screen.length = this.row;
      else {
        // A line longer than the terminal wraps onto more rows, as a real terminal does.
        const len = [...tok].length;
        for (let i = 0; i * this.columns < len; i++) this.screen[this.row + i] = [...tok].slice(i * this.columns, (i + 1) * this.columns).join("");
        this.row += Math.floor((len - 1) / this.columns);
      }
    }
  }
}

describe("progress state from a recorded build", () => {
  const { notes, state } = replay(recorded("build-success.txt"));

  it("closes each step with its duration, measured between Packer's lines", () => {
    const ssh = notes.find((n) => n.kind === "step-done" && n.text === "Waiting for SSH to become available...");
    expect(ssh).toMatchObject({ build: "qemu.e2e", elapsedMs: 39_000 });
  });

  it("reports the artifact and the build's end", () => {
    expect(notes.filter((n) => n.kind === "artifact")).toEqual([
      { kind: "artifact", build: "qemu.e2e", description: "'libvirt' provider box: /tmp/e2e-out/e2e_libvirt.box", files: ["/tmp/e2e-out/e2e_libvirt.box"] },
    ]);
    expect(notes.find((n) => n.kind === "build-finished")).toMatchObject({ build: "qemu.e2e", ok: true });
    expect(state.builds.get("qemu.e2e")?.status).toBe("done");
  });

  it("marks a failed build with Packer's own error, not the script's stderr", () => {
    const failed = replay(recorded("build-failure.txt"));
    expect(failed.state.builds.get("qemu.e2e")?.status).toBe("failed");
    const errors = failed.notes.filter((n) => n.kind === "error").map((n) => (n.kind === "error" ? n.text : ""));
    expect(errors[0]).toMatch(/^Build 'qemu\.e2e' errored after .*: Script exited with non-zero exit status: 1/);
    expect(errors.filter((t) => t.includes("sleep"))).toEqual([]);
    expect(failed.notes.find((n) => n.kind === "build-finished")).toMatchObject({ ok: false });
  });

  it("shows a script's stderr as output: the shutdown command's complaint in a good build is no error", () => {
    // build-success.txt: `Failed to connect to bus` is the stderr of the shutdown command.
    expect(notes.filter((n) => n.kind === "error")).toEqual([]);
    const events = recorded("build-success.txt");
    const bus = events.find((e) => e.kind === "ui" && e.body.includes("Failed to connect to bus"));
    expect(bus).toMatchObject({ level: "error", remote: true });
    const upToBus = initialProgress(0);
    for (const e of events.slice(0, events.indexOf(bus!) + 1)) applyEvent(upToBus, e, 1_000);
    expect(upToBus.builds.get("qemu.e2e")?.lastOutput).toBe("Failed to connect to bus: No such file or directory");
  });

  it("still marks Packer's own errors as errors, in steps that run no command", () => {
    // What Packer 1.6 prints when the ISO download fails (common.StepDownload), then the build's end.
    const lines = [
      "1,,ui,say,==> homelab.qemu.debian: Retrieving ISO",
      "2,,ui,error,==> homelab.qemu.debian: Error downloading ISO: bad checksum",
      "3,,ui,say,==> homelab.qemu.debian: Provisioning with shell script: scripts/10-base.sh",
      "4,,ui,error,==> homelab.qemu.debian: debconf: delaying package configuration%!(PACKER_COMMA) since apt-utils is not installed",
      "5,,ui,error,==> homelab.qemu.debian: Created symlink /etc/systemd/system/multi-user.target.wants/containerd.service.",
    ].join("\n");
    const events = parseMachineReadable(lines);
    expect(events.map((e) => (e.kind === "ui" ? (e.remote ?? false) : undefined))).toEqual([false, false, false, true, true]);
    const state = initialProgress(0);
    const errors = events.flatMap((e) => applyEvent(state, e, 0)).filter((n) => n.kind === "error");
    expect(errors).toEqual([{ kind: "error", build: "homelab.qemu.debian", text: "Error downloading ISO: bad checksum" }]);
    const plain = events.flatMap((e) => plainLines(e, 0));
    expect(plain.filter((l) => l.includes(" error "))).toEqual(["1970-01-01T00:00:00Z error ==> homelab.qemu.debian: Error downloading ISO: bad checksum"]);
    expect(plain).toContain("1970-01-01T00:00:00Z ==> homelab.qemu.debian: Created symlink /etc/systemd/system/multi-user.target.wants/containerd.service.");
  });
});

describe("formatting", () => {
  it("formats elapsed times compactly", () => {
    expect([0, 4_200, 75_000, 3_600_000 + 120_000].map(formatElapsed)).toEqual(["0s", "4s", "1m15s", "1h02m"]);
  });

  it("cuts lines by characters, not bytes", () => {
    expect(fitWidth("größe ✓ ok", 7)).toBe("größe …");
    expect(fitWidth("short", 10)).toBe("short");
  });
});

describe("the live frame", () => {
  const events = recorded("build-success.txt");
  const waiting = events.findIndex((e) => e.kind === "ui" && e.body.startsWith("Waiting for SSH"));
  const state = initialProgress(0);
  for (const e of events.slice(0, waiting + 1)) applyEvent(state, e, 1_000);

  it("shows the running build, the total time, its current step and the time in it", () => {
    expect(renderFrame(state, 31_000, 100)).toEqual(["⠋ qemu.e2e [31s] Waiting for SSH to become available...  30s"]);
    const withOutput = initialProgress(0);
    for (const e of events.slice(0, events.findIndex((e) => e.kind === "ui" && e.body.startsWith("homelab-e2e: hello")) + 1)) applyEvent(withOutput, e, 1_000);
    expect(renderFrame(withOutput, 2_000, 60)).toEqual(["⠋ qemu.e2e [2s] Provisioning with shell script: /tmp/p…  1s", "    │ homelab-e2e: hello from the guest"]);
  });

  it("never produces a line as wide as the terminal, however narrow", () => {
    for (const width of [10, 20, 39, 40, 41, 50, 80]) {
      for (const line of renderFrame(state, 31_000, width)) expect([...line].length, `${width}: ${line}`).toBeLessThan(width);
    }
    expect(renderFrame(state, 31_000, 30)).toEqual(["qemu.e2e: Waiting for SSH to…"]);
  });
});

describe("TtyProgress", () => {
  it("redraws in place: the screen ends with the notes and no leftover frame", () => {
    let now = 1_795_472_080_000;
    const term = new FakeTerminal(60);
    const tty = new TtyProgress(term, () => now, { refreshMs: 0 });
    for (const e of recorded("build-success.txt")) {
      if ("timestamp" in e) now = e.timestamp * 1000;
      tty.event(e);
    }
    tty.close();
    const screen = term.screen.filter((l) => l !== undefined);
    expect(screen).toContain("  ✓ qemu.e2e  Waiting for SSH to become available...  39s");
    expect(screen.some((l) => l.startsWith("  ⇒ qemu.e2e  'libvirt' provider box"))).toBe(true);
    expect(screen.some((l) => /^ {2}● qemu\.e2e finished after 1m\d\ds$/.test(l))).toBe(true);
    expect(screen.some((l) => l.includes("│") || /^⠋/.test(l))).toBe(false); // the frame is gone
    expect(term.writes.at(0)).toBe("\u001b[?25l");
    expect(term.writes.at(-1)?.endsWith("\u001b[?25h")).toBe(true);
  });

  it("writes nothing when nothing changed (no flicker), and one write per update", () => {
    let now = 0;
    const term = new FakeTerminal(80);
    const tty = new TtyProgress(term, () => now, { refreshMs: 0 });
    tty.event({ kind: "ui", level: "say", target: "", build: "qemu.a", text: "==> qemu.a: Step", body: "Step", timestamp: 0 });
    const count = term.writes.length;
    tty.event({ kind: "other", line: { timestamp: 0, target: "", type: "x", data: [] } });
    expect(term.writes.length).toBe(count);
    now = 2_000;
    tty.notice("KVM is not usable here; building with TCG");
    expect(term.writes.length).toBe(count + 1);
    expect(term.screen.filter(Boolean)).toEqual(["KVM is not usable here; building with TCG", "⠋ qemu.a [2s] Step  2s"]);
    tty.close();
  });
});

describe("plain and JSON modes", () => {
  it("prints Packer's lines with an ISO timestamp, one per line", () => {
    const at = Date.UTC(2026, 10, 23, 22, 10, 1);
    const lines = plainLines(
      { kind: "ui", level: "message", target: "", build: "q.a", text: "    q.a: one\n    q.a: two", body: "one\ntwo", timestamp: 0 },
      at,
    );
    expect(lines).toEqual(["2026-11-23T22:10:01Z     q.a: one", "2026-11-23T22:10:01Z     q.a: two"]);
    const out: string[] = [];
    const plain = new PlainProgress({ write: (s) => out.push(s) }, () => at);
    for (const e of recorded("build-failure.txt")) plain.event(e);
    const text = out.join("");
    // The script's stderr is printed as output; Packer's verdict is the error.
    expect(text).toContain("2026-11-23T22:10:01Z ==> qemu.e2e: sleep: invalid time interval 'bogus'\n");
    expect(text).toContain("2026-11-23T22:10:01Z error qemu.e2e: Script exited with non-zero exit status: 1.");
    expect(text.split("\n").filter(Boolean).every((l) => l.startsWith("2026-11-23T22:10:01Z "))).toBe(true);
  });

  it("writes one JSON object per event and line, which parses back to the event", () => {
    const out: string[] = [];
    const json = new JsonProgress({ write: (s) => out.push(s) }, () => 0);
    const events = recorded("build-success.txt");
    for (const e of events) json.event(e);
    json.notice("hello");
    const lines = out.join("").split("\n").filter(Boolean);
    expect(lines).toHaveLength(events.length + 1);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.slice(0, -1).map(({ time: _t, ...rest }) => rest)).toEqual(events);
    expect(parsed.at(-1)).toEqual({ time: "1970-01-01T00:00:00.000Z", kind: "notice", text: "hello" });
  });

  it("chooses the mode from --json and the terminal", () => {
    expect(progressMode({ json: true }, { isTTY: true })).toBe("json");
    expect(progressMode({}, { isTTY: true })).toBe("tty");
    expect(progressMode({}, {})).toBe("plain");
  });
});
