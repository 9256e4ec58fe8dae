import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { needTool } from "../support/tools.js";

/**
 * The bundle's README is what a person reads who got the bundle without homelab: it must say
 * how to start with a newer Packer, and how to build after the base image moved (the pkrvars
 * hold its absolute path). The second point is run, not only read: after moving the image,
 * the variable the README names is one the real `packer validate` takes.
 */
describe.skipIf(!needTool("packer"))("the bundle README", () => {
  it("says `packer init .` for Packer >= 1.7 and how to point a moved base image, and that override works", async () => {
    const dir = mkdtempSync(join(tmpdir(), "homelab-readme-"));
    writeFileSync(join(dir, "base.qcow2"), "not really a disk\n");
    const sha = execFileSync("sha256sum", [join(dir, "base.qcow2")], { encoding: "utf8" }).split(" ")[0];
    writeFileSync(join(dir, "homelab.yaml"), `debian: {}\nbase:\n  image: ./base.qcow2\n  checksum: sha256:${sha}\n`);
    const gen = await runCli(["generate", "--no-version-check", "-o", "bundle"], { cwd: dir });
    expect(gen.code, gen.stderr).toBe(0);
    const readme = readFileSync(join(dir, "bundle", "README.md"), "utf8");
    expect(readme).toContain("run `packer init .` once first");
    expect(readme).toContain(`\`${join(dir, "base.qcow2")}\``);
    expect(readme).toMatch(/`-var base_image=\S+`/);

    renameSync(join(dir, "base.qcow2"), join(dir, "moved.qcow2"));
    const validate = (args: string[]) => {
      try {
        execFileSync("packer", ["validate", ...args, "."], { cwd: join(dir, "bundle"), encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
        return 0;
      } catch (err) {
        return (err as { status: number }).status;
      }
    };
    // Packer refuses a -var it has no variable for, so the name the README gives is checked here.
    expect(validate(["-var", "no_such_variable=1"])).not.toBe(0);
    expect(validate(["-var", `base_image=${join(dir, "moved.qcow2")}`])).toBe(0);
  });
});
