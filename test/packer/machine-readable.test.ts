import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeField,
  encodeField,
  MachineReadableParser,
  parseMachineLine,
  parseMachineReadable,
  splitUiPrefix,
  type PackerEvent,
} from "../../src/packer/machine-readable.js";

const fixture = (name: string): string =>
  readFileSync(fileURLToPath(new URL(`../fixtures/packer/${name}`, import.meta.url)), "utf8");

describe("field escapes", () => {
  it("decodes Packer's comma, CR and LF escapes", () => {
    expect(decodeField("SSH%!(PACKER_COMMA) WinRM%!(PACKER_COMMA) etc")).toBe("SSH, WinRM, etc");
    expect(decodeField("a\\nb\\r\\nc")).toBe("a\nb\r\nc");
    expect(decodeField("%!(PACKER_COMMA)%!(PACKER_COMMA)")).toBe(",,");
    expect(decodeField("")).toBe("");
  });

  it("round-trips any text without a backslash (Packer does not escape the backslash itself)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }).filter((s) => !s.includes("\\")), (s) => {
        const encoded = encodeField(s);
        expect(encoded).not.toMatch(/[,\n\r]/);
        expect(decodeField(encoded)).toBe(s);
      }),
    );
  });

  it("keeps fields apart when the text is full of commas and newlines", () => {
    fc.assert(
      fc.property(fc.array(fc.string().filter((s) => !s.includes("\\")), { minLength: 1, maxLength: 5 }), (fields) => {
        const line = `1795472053,qemu.x,custom,${fields.map(encodeField).join(",")}`;
        expect(parseMachineLine(line)?.data).toEqual(fields);
      }),
    );
  });
});

describe("parseMachineLine", () => {
  it("splits timestamp, target, type and data", () => {
    expect(parseMachineLine("1795472149,qemu.e2e,artifact,0,file,0,/tmp/a.box")).toEqual({
      timestamp: 1795472149,
      target: "qemu.e2e",
      type: "artifact",
      data: ["0", "file", "0", "/tmp/a.box"],
    });
    expect(parseMachineLine("1795472149,,error-count,0")?.target).toBe("");
    expect(parseMachineLine("1795472149,,ui,say,x\r")?.data).toEqual(["say", "x"]);
  });

  it("rejects lines that are not machine-readable", () => {
    for (const line of ["", "panic: runtime error", "abc,x,ui,say,hi", "123", "123,target", "123,,", " 123,,ui,say,x"]) {
      expect(parseMachineLine(line), line).toBeUndefined();
    }
  });
});

describe("splitUiPrefix", () => {
  it("finds the build and strips the prefix from every line", () => {
    expect(splitUiPrefix("==> qemu.e2e: Waiting for SSH to become available...")).toEqual({
      build: "qemu.e2e",
      body: "Waiting for SSH to become available...",
    });
    expect(splitUiPrefix("    qemu.e2e: one\n    qemu.e2e: two")).toEqual({ build: "qemu.e2e", body: "one\ntwo" });
    expect(splitUiPrefix("==> qemu.e2e (vagrant): Creating Vagrant box")).toEqual({
      build: "qemu.e2e",
      postProcessor: "vagrant",
      body: "Creating Vagrant box",
    });
  });

  it("leaves run-wide lines without a build", () => {
    expect(splitUiPrefix("\n==> Wait completed after 1 minute")).toEqual({ body: "Wait completed after 1 minute" });
    expect(splitUiPrefix("Build 'qemu.e2e' finished after 1 minute").build).toBeUndefined();
  });
});

describe("a recorded successful build (Packer 1.6.6, qemu + vagrant)", () => {
  const text = fixture("build-success.txt");
  const events = parseMachineReadable(text);

  it("yields one event per ui line, in order, with the build taken from the prefix", () => {
    const ui = events.filter((e) => e.kind === "ui");
    expect(ui.length).toBe(text.split("\n").filter((l) => l.includes(",ui,")).length);
    const says = ui.filter((e) => e.level === "say" && e.build === "qemu.e2e").map((e) => e.body);
    const order = ["Starting VM, booting disk image", "Waiting for SSH to become available...", "Connected to SSH!", "Gracefully halting virtual machine..."];
    const positions = order.map((s) => says.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it("decodes the comma in the guest's output", () => {
    const messages = events.flatMap((e) => (e.kind === "ui" && e.level === "message" ? [e.body] : []));
    expect(messages).toContain("homelab-e2e: kernel 6.1.0-50-amd64, user root");
  });

  it("groups the artifact lines into one artifact with its file", () => {
    const count = events.find((e) => e.kind === "artifact-count");
    expect(count).toMatchObject({ target: "qemu.e2e", count: 1 });
    const artifacts = events.flatMap((e) => (e.kind === "artifact" ? [e.artifact] : []));
    expect(artifacts).toEqual([
      {
        target: "qemu.e2e",
        index: 0,
        builderId: "mitchellh.post-processor.vagrant",
        id: "libvirt",
        description: "'libvirt' provider box: /tmp/e2e-out/e2e_libvirt.box",
        files: ["/tmp/e2e-out/e2e_libvirt.box"],
      },
    ]);
    expect(events.some((e) => e.kind === "other" && e.line.type === "artifact")).toBe(false);
  });

  it("gives the same events however the bytes are split into chunks (even inside a UTF-8 character)", () => {
    const bytes = new TextEncoder().encode(`${text}1795472149,,ui,message,    qemu.e2e: größe ✓ 🚀\n`);
    const whole = parseMachineReadable(new TextDecoder().decode(bytes));
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const parser = new MachineReadableParser();
        const got: PackerEvent[] = [];
        let from = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          got.push(...parser.push(bytes.subarray(from, cut)));
          from = cut;
        }
        got.push(...parser.push(bytes.subarray(from)), ...parser.end());
        expect(got).toEqual(whole);
      }),
      { numRuns: 50 },
    );
  });
});

describe("a recorded failed build", () => {
  const events = parseMachineReadable(fixture("build-failure.txt"));

  it("reports the build's error and the error count", () => {
    expect(events.find((e) => e.kind === "build-error")).toMatchObject({
      target: "qemu.e2e",
      message: "Script exited with non-zero exit status: 1.Allowed exit codes are: [0]",
    });
    expect(events.find((e) => e.kind === "error-count")).toMatchObject({ count: 1 });
    const uiErrors = events.flatMap((e) => (e.kind === "ui" && e.level === "error" ? [e.body] : []));
    expect(uiErrors).toContain("sleep: invalid time interval 'bogus'");
    expect(events.some((e) => e.kind === "artifact")).toBe(false);
  });
});

describe("the incremental parser", () => {
  it("reports non-machine-readable lines as noise and flushes a last line without newline", () => {
    const noise: string[] = [];
    const parser = new MachineReadableParser((l) => noise.push(l));
    expect(parser.push("panic: boom\n1795472149,,ui,say,==> a.b: hel")).toEqual([]);
    expect(noise).toEqual(["panic: boom"]);
    const last = parser.end();
    expect(last).toMatchObject([{ kind: "ui", level: "say", build: "a.b", body: "hel" }]);
  });

  it("emits an artifact only at its end line, even when two builds interleave", () => {
    const events = parseMachineReadable(
      [
        "1,a.x,artifact,0,id,one",
        "1,b.y,artifact,0,id,two",
        "1,b.y,artifact,0,file,1,/b2",
        "1,b.y,artifact,0,file,0,/b1",
        "1,b.y,artifact,0,end",
        "1,a.x,artifact,0,end",
      ].join("\n"),
    );
    expect(events.map((e) => (e.kind === "artifact" ? [e.artifact.target, e.artifact.id, e.artifact.files] : e.kind))).toEqual([
      ["b.y", "two", ["/b1", "/b2"]],
      ["a.x", "one", []],
    ]);
  });
});
