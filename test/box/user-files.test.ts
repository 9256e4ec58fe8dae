import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { expectIntact, plant, type Tree } from "../support/planted.js";
import { makeBox, runCli, tempDir } from "./support.js";

/**
 * The registry directory is also the user's: a README at its root, notes beside a box. publish,
 * publish --force and rm, run through the real CLI, replace and remove only what the catalog
 * lists (and the temporary uploads homelab names itself); every planted file survives.
 */
const tmp = tempDir("homelab-box-userfiles-");
afterAll(tmp.cleanup);

describe("a user's files in the registry directory", () => {
  it("survive publish, publish --force and rm, down to removing the box's last version", async () => {
    const reg = join(tmp.path, "registry");
    const a = makeBox(tmp.path, "a", { marker: "a" });
    const b = makeBox(tmp.path, "b", { marker: "b" });
    const publish = (file: string, version: string, ...extra: string[]) =>
      runCli(["box", "publish", file, "--name", "lab/node", "--version", version, "--registry", reg, ...extra]);

    const first = await publish(a, "1.0.0");
    expect(first.code, first.stderr).toBe(0);
    const theirs: Tree = {
      "README.md": "my registry\n",
      "lab/README": "my org\n",
      "lab/node/notes.txt": "about this box\n",
      "lab/node/1.0.0/notes.txt": "about 1.0.0\n",
      "lab/node/1.0.0/libvirt-amd64.box.sig": "my signature\n",
      "lab/node/2.0.0/CHANGELOG": "2.0.0 is coming\n", // a version directory before its first box
      "lab/other/notes.txt": "a box that is only notes so far\n",
      ".incoming/notes.txt": "not an upload of homelab's\n",
    };
    plant(reg, theirs);

    expect((await publish(b, "2.0.0")).code).toBe(0);
    expectIntact(reg, theirs);
    const forced = await publish(b, "1.0.0", "--force");
    expect(forced.code, forced.stderr).toBe(0);
    expectIntact(reg, theirs);

    expect((await runCli(["box", "rm", "lab/node@1.0.0", "--registry", reg])).code).toBe(0);
    expectIntact(reg, theirs);
    expect(readdirSync(join(reg, "lab/node/1.0.0")).sort()).toEqual(["libvirt-amd64.box.sig", "notes.txt"]);

    const last = await runCli(["box", "rm", "lab/node@2.0.0/libvirt", "--registry", reg]);
    expect(last.code, last.stderr).toBe(0);
    expectIntact(reg, theirs);
    expect(readdirSync(join(reg, "lab/node/2.0.0"))).toEqual(["CHANGELOG"]);
    expect(readdirSync(join(reg, "lab/node")).sort()).toEqual(["1.0.0", "2.0.0", "notes.txt"]); // no catalog.json left
  });
});
