import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { sweepPartialBoxes } from "../../src/builder/sweep-partials.js";
import { REPO, tempDir } from "../box/support.js";

const tmp = tempDir("homelab-partials-");
afterAll(tmp.cleanup);

/**
 * Runs the real withStagedDir (dist/) in a child that writes a box into its staging directory,
 * optionally moves the old boxes aside the way the final step does, and is SIGKILLed there.
 */
async function killedBuild(buildDir: string, stage: "writing" | "between-renames"): Promise<void> {
  const staged = pathToFileURL(join(REPO, "dist/fs/staged-dir.js")).href;
  const script = `
    import { withStagedDir } from ${JSON.stringify(staged)};
    import { writeFileSync, renameSync } from "node:fs";
    await withStagedDir(${JSON.stringify(join(buildDir, "boxes"))}, async (staging) => {
      writeFileSync(staging + "/half.box", "half a box");
      if (${JSON.stringify(stage)} === "between-renames") renameSync(${JSON.stringify(join(buildDir, "boxes"))}, staging + ".previous");
      process.stdout.write("ready\\n");
      await new Promise(() => {});
    });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => child.stdout.on("data", () => resolve()));
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
}

describe("sweepPartialBoxes: what a SIGKILLed build leaves", () => {
  it("removes the staging directory and keeps the boxes and a user's files", async () => {
    const dir = join(tmp.path, "b1");
    mkdirSync(join(dir, "boxes"), { recursive: true });
    writeFileSync(join(dir, "boxes", "good.box"), "good");
    writeFileSync(join(dir, ".boxes.notes"), "mine"); // a user's file that looks close
    mkdirSync(join(dir, ".boxes.partial-mine-too"));
    await killedBuild(dir, "writing");
    expect(readdirSync(dir).filter((n) => /^\.boxes\.partial-\w{6}$/.test(n))).toHaveLength(1);
    const removed = await sweepPartialBoxes(dir);
    expect(removed).toHaveLength(1);
    expect(readdirSync(dir).sort()).toEqual([".boxes.notes", ".boxes.partial-mine-too", "boxes"]);
    expect(readFileSync(join(dir, "boxes", "good.box"), "utf8")).toBe("good");
    expect(await sweepPartialBoxes(dir)).toEqual([]);
  });

  it("puts the previous boxes back when the kill came between the two renames", async () => {
    const dir = join(tmp.path, "b2");
    mkdirSync(join(dir, "boxes"), { recursive: true });
    writeFileSync(join(dir, "boxes", "good.box"), "good");
    await killedBuild(dir, "between-renames");
    expect(existsSync(join(dir, "boxes"))).toBe(false);
    await sweepPartialBoxes(dir);
    expect(readFileSync(join(dir, "boxes", "good.box"), "utf8")).toBe("good");
    expect(readdirSync(dir)).toEqual(["boxes"]);
  });
});
