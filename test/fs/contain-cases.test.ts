import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isUnder as isWithin, OutsideRootError as UnsafePathError, resolveInside as resolveInsideSync } from "../../src/fs/contain.js";

/** The check is synchronous; these cases read better as promises. */
const resolveInside = async (root: string, ...names: string[]): Promise<string> => resolveInsideSync(root, ...names);

let base: string;
let root: string;
beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), "homelab-inside-")));
  root = join(base, "root");
  mkdirSync(join(root, "sub"), { recursive: true });
  mkdirSync(join(base, "outside"));
  writeFileSync(join(base, "outside", "secret"), "secret");
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe("resolveInside", () => {
  it("joins plain names under the root's real path, existing or not", async () => {
    await expect(resolveInside(root, "sub")).resolves.toBe(join(root, "sub"));
    await expect(resolveInside(root, "sub/new/deeper.txt")).resolves.toBe(join(root, "sub/new/deeper.txt"));
    // The root itself through a symlink: the answer is under its real path.
    symlinkSync(root, join(base, "alias"));
    await expect(resolveInside(join(base, "alias"), "sub/x")).resolves.toBe(join(root, "sub/x"));
  });

  it.each([
    ["", "empty"],
    ["/etc/passwd", "is absolute"],
    ["..", "contains .."],
    ["../outside/secret", "contains .."],
    ["sub/../../outside/secret", "contains .."],
    ["sub/../sub", "contains .."], // refused, not normalised
    ["./sub", "'.' component"],
    ["sub//x", "empty"],
    ["sub/", "empty"],
    ["a\0b", "NUL"],
  ])("refuses %j", async (name, why) => {
    const err = await resolveInside(root, name).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafePathError);
    expect((err as Error).message).toContain(why);
    expect((err as UnsafePathError).exitCode).toBe(2);
  });

  it("refuses a path through a symlink that leads outside, or nowhere, and allows one that stays inside", async () => {
    symlinkSync(join(base, "outside"), join(root, "sub", "out"));
    await expect(resolveInside(root, "sub/out/secret")).rejects.toThrow(/"sub\/out\/secret" under .*leads outside through a symlink/);
    await expect(resolveInside(root, "sub/out")).rejects.toThrow(UnsafePathError); // the last component too
    symlinkSync(join(base, "nowhere"), join(root, "dangling"));
    await expect(resolveInside(root, "dangling/x")).rejects.toThrow(/leads nowhere/);
    symlinkSync("../sub", join(root, "sub", "up")); // relative, and inside
    await expect(resolveInside(root, "sub/up/x")).resolves.toBe(join(root, "sub/up/x"));
  });
});

describe("isWithin", () => {
  it("tells a child from a sibling that only shares a prefix", () => {
    expect(isWithin("/a/b", "/a/b")).toBe(true);
    expect(isWithin("/a/b", "/a/b/c")).toBe(true);
    expect(isWithin("/a/b", "/a/bc")).toBe(false);
    expect(isWithin("/a/b", "/a")).toBe(false);
    expect(isWithin("/a/b", "/a/b/..c")).toBe(true); // a name starting with two dots is a child
  });
});
