import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { withStagedDir } from "../../src/fs/staged-dir.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "homelab-staged-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("withStagedDir", () => {
  it("moves the staged output into place only on success", async () => {
    const final = join(root, "out");
    const value = await withStagedDir(final, async (staging) => {
      expect(staging.startsWith(join(root, ".out.partial-"))).toBe(true);
      await writeFile(join(staging, "a.box"), "box");
      await expect(readdir(root)).resolves.not.toContain("out");
      return 42;
    });
    expect(value).toBe(42);
    expect(await readdir(root)).toEqual(["out"]);
    expect(await readFile(join(final, "a.box"), "utf8")).toBe("box");
  });

  it("deletes the staging dir and leaves an existing output untouched when the work fails", async () => {
    const final = join(root, "out");
    await mkdir(final);
    await writeFile(join(final, "old.box"), "old");
    await expect(
      withStagedDir(final, async (staging) => {
        await writeFile(join(staging, "half.box"), "half");
        throw new Error("packer failed");
      }),
    ).rejects.toThrow("packer failed");
    expect(await readdir(root)).toEqual(["out"]);
    expect(await readdir(final)).toEqual(["old.box"]);
  });

  it("replaces an existing output as a whole on success", async () => {
    const final = join(root, "out");
    await mkdir(final);
    await writeFile(join(final, "old.box"), "old");
    await withStagedDir(final, (staging) => writeFile(join(staging, "new.box"), "new"));
    expect(await readdir(root)).toEqual(["out"]);
    expect(await readdir(final)).toEqual(["new.box"]);
  });
});
