import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installBoxes, sweepDeadAttempts } from "../../src/builder/install-boxes.js";
import { RECORD_FILE, type BuiltBox } from "../../src/builder/record.js";

let base: string;
let dir: string; // a build directory, .homelab/builds/<hash>/
let staged: string; // where Packer wrote this attempt's boxes
beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "homelab-install-boxes-")));
  dir = join(base, "build");
  staged = join(dir, ".attempt-1-abcdef", "out");
  mkdirSync(staged, { recursive: true });
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const box = (file: string, content: string): BuiltBox => {
  writeFileSync(join(staged, file), content);
  return { provider: "libvirt", file, size: content.length, sha256: "0".repeat(64) };
};
const write = (rel: string, content: string) => {
  mkdirSync(join(dir, rel, ".."), { recursive: true });
  writeFileSync(join(dir, rel), content);
};

describe("installBoxes", () => {
  it("replaces and removes only the boxes the previous record lists; a user's files in boxes/ stay", async () => {
    write("boxes/a-libvirt.box", "old libvirt");
    write("boxes/a-virtualbox.box", "old virtualbox");
    write("boxes/mine.box", "my own box");
    write("boxes/notes.txt", "mine");
    write("notes.txt", "mine");
    write(RECORD_FILE, JSON.stringify({ boxes: [{ file: "boxes/a-libvirt.box" }, { file: "boxes/a-virtualbox.box" }] }));
    const installed = await installBoxes(dir, staged, [box("a-libvirt.box", "new libvirt")]);
    expect(installed.map((b) => b.file)).toEqual(["boxes/a-libvirt.box"]);
    expect(readFileSync(join(dir, "boxes/a-libvirt.box"), "utf8")).toBe("new libvirt");
    expect(readdirSync(join(dir, "boxes")).sort()).toEqual(["a-libvirt.box", "mine.box", "notes.txt"]);
    expect(readFileSync(join(dir, "boxes/mine.box"), "utf8")).toBe("my own box");
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("mine");
    // No record while boxes/ changes: the caller writes the new one; a kill before that means a rebuild.
    expect(existsSync(join(dir, RECORD_FILE))).toBe(false);
  });

  it("an edited record cannot make it delete anything but a box of its own in boxes/", async () => {
    write("victim.txt", "keep");
    write("logs/build.log", "keep");
    write("bundle/build.pkr.hcl", "keep");
    mkdirSync(join(base, "outside"));
    writeFileSync(join(base, "outside", "victim.box"), "keep");
    symlinkSync(join(base, "outside"), join(dir, "out-link"));
    const hostile = ["../victim.txt", "victim.txt", "logs/build.log", "bundle/build.pkr.hcl", "boxes/../victim.txt", `${join(base, "outside", "victim.box")}`, "out-link/victim.box", "boxes/x/../../victim.txt"];
    write(RECORD_FILE, JSON.stringify({ boxes: hostile.map((file) => ({ file })).concat([{ file: 7 as unknown as string }]) }));
    await installBoxes(dir, staged, [box("a-libvirt.box", "new")]);
    for (const f of ["victim.txt", "logs/build.log", "bundle/build.pkr.hcl"]) expect(readFileSync(join(dir, f), "utf8"), f).toBe("keep");
    expect(readFileSync(join(base, "outside", "victim.box"), "utf8")).toBe("keep");
  });

  it("refuses a boxes/ that is a symlink leading out of the build directory", async () => {
    mkdirSync(join(base, "outside"));
    writeFileSync(join(base, "outside", "a-libvirt.box"), "keep");
    symlinkSync(join(base, "outside"), join(dir, "boxes"));
    await expect(installBoxes(dir, staged, [box("a-libvirt.box", "new")])).rejects.toThrow(/leads outside through a symlink/);
    expect(readFileSync(join(base, "outside", "a-libvirt.box"), "utf8")).toBe("keep");
  });
});

describe("sweepDeadAttempts", () => {
  it("removes the scratch directory of a dead attempt only: live ones, other names and symlinks stay", async () => {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout);
    const live = spawn("sleep", ["30"]);
    try {
      const deadDir = `.attempt-${deadPid}-Ab12Cd`;
      write(`${deadDir}/vm/libvirt/disk`, "scratch");
      write(`.attempt-${live.pid}-Zz99zz/vm/disk`, "in use");
      write(".attempt-notes/mine.txt", "mine"); // not an attempt name
      write(`.attempt-${deadPid}-Ab12Cd-mine/x`, "mine"); // nor this
      mkdirSync(join(base, "outside"));
      writeFileSync(join(base, "outside", "x"), "keep");
      symlinkSync(join(base, "outside"), join(dir, `.attempt-${deadPid}-Sym123`));
      rmSync(join(dir, ".attempt-1-abcdef"), { recursive: true }); // this test's own staging: not needed here
      expect(await sweepDeadAttempts(dir)).toEqual([deadDir]);
      expect(readdirSync(dir).sort()).toEqual(
        [`.attempt-${deadPid}-Ab12Cd-mine`, `.attempt-${deadPid}-Sym123`, `.attempt-${live.pid}-Zz99zz`, ".attempt-notes"].sort(),
      );
      expect(readFileSync(join(base, "outside", "x"), "utf8")).toBe("keep");
    } finally {
      live.kill();
    }
  });
});
