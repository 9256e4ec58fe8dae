import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OutsideRootError, resolveInside } from "../../src/fs/contain.js";

const base = mkdtempSync(join(tmpdir(), "homelab-contain-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const root = join(base, "root");
const outside = join(base, "outside");
mkdirSync(join(root, "org", "box"), { recursive: true });
mkdirSync(outside);
writeFileSync(join(outside, "sentinel"), "outside");
symlinkSync(outside, join(root, "org", "out-dir"));
symlinkSync(join(outside, "sentinel"), join(root, "org", "out-file"));
symlinkSync(join(base, "nowhere"), join(root, "org", "dangling"));
symlinkSync(join(root, "org", "box"), join(root, "org", "in-dir"));
symlinkSync(root, join(base, "root-link"));

describe("resolveInside: the one containment check", () => {
  it("joins plain names under the root's real path, whether they exist or not", () => {
    expect(resolveInside(root, "org", "box")).toBe(join(root, "org", "box"));
    expect(resolveInside(root, "org/box", "1.0.0/libvirt-amd64.box")).toBe(join(root, "org/box/1.0.0/libvirt-amd64.box"));
    expect(resolveInside(join(base, "root-link"), "org")).toBe(join(root, "org"));
    // A symlink that stays inside the root is fine.
    expect(resolveInside(root, "org", "in-dir", "x")).toBe(join(root, "org", "in-dir", "x"));
  });

  it.each([
    ["absolute segment", ["/etc/passwd"]],
    ["dot-dot", ["org", "..", "..", "outside"]],
    ["dot-dot inside a segment", ["org/../../outside"]],
    ["dot", ["org", "."]],
    ["empty component", ["org//box"]],
    ["NUL", ["org\0"]],
    ["symlinked directory leading out", ["org", "out-dir", "sentinel"]],
    ["symlinked directory, missing file below", ["org", "out-dir", "new", "file"]],
    ["symlinked file leading out", ["org", "out-file"]],
    ["dangling symlink", ["org", "dangling"]],
    ["below a dangling symlink", ["org", "dangling", "x"]],
  ])("refuses %s", (_name, segments) => {
    expect(() => resolveInside(root, ...segments)).toThrow(OutsideRootError);
    expect(readFileSync(join(outside, "sentinel"), "utf8")).toBe("outside");
  });

  it("refuses a root that does not exist", () => {
    expect(() => resolveInside(join(base, "missing"), "x")).toThrow(OutsideRootError);
  });
});
