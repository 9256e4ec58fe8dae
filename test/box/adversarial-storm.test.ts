import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCatalog } from "../../src/box/catalog.js";
import { publishBox } from "../../src/box/publish.js";
import { plantSentinel, sha256, Tally } from "./adversarial-support.js";
import { CLI, makeBox, runCli, tempDir } from "./support.js";

/**
 * SIGKILL storms: real `homelab box publish` (new versions and force-replaces) and `box rm`
 * processes writing one registry directory at once, each killed with SIGKILL at a random
 * moment. Afterwards `homelab box fsck` may find only junk the sweep removes (an upload whose
 * writer died, a box file or a catalog write a kill cut short, a lock left behind), never a
 * catalog entry without its file or a broken catalog; `--repair` leaves it clean, and every
 * catalog entry's file still hashes to its checksum.
 */
const tmp = tempDir("homelab-storm-");
const sentinel = plantSentinel(join(tmp.path, "outside"));
const tally = new Tally();
afterAll(() => {
  tally.print();
  sentinel.assertUntouched();
  tmp.cleanup();
});

const JUNK = new Set(["partial-upload", "temp-catalog", "orphan-box", "empty-version", "stale-lock"]);

describe("SIGKILL storm during publishes", () => {
  it("a bounded storm of killed publish/force-replace/rm processes leaves only junk the sweep repairs", async () => {
    const reg = join(tmp.path, "reg");
    const boxes = Array.from({ length: 4 }, (_, i) => makeBox(tmp.path, `s${i}`, { imageBytes: (2 + i) << 20 }));
    const shas = new Set(boxes.map((b) => sha256(readFileSync(b))));
    await publishBox({ file: boxes[0]!, name: "acme/storm", version: "1.0.0", registry: reg });
    // How long one publish takes here (machines differ): kills are spread over that span.
    const t0 = Date.now();
    expect((await runCli(["box", "publish", boxes[3]!, "--name", "acme/calib", "--version", "1.0.0", "--registry", join(tmp.path, "calib")])).code).toBe(0);
    const span = Date.now() - t0;
    const ROUNDS = 12;
    // A loaded machine finishes some processes before their kill: storm on (bounded) until at
    // least half as many kills as rounds hit a running process.
    const MAX_ROUNDS = 36;
    let killedMidway = 0;
    let killedCopying = 0;
    let spawned = 0;
    for (let round = 0; round < MAX_ROUNDS && (round < ROUNDS || killedMidway < ROUNDS / 2); round++) {
      const commands = [
        ["box", "publish", boxes[round % 4]!, "--name", "acme/storm", "--version", "1.0.0", "--force", "--registry", reg],
        ["box", "publish", boxes[(round + 1) % 4]!, "--name", "acme/storm", "--version", `1.${round + 1}.0`, "--registry", reg],
        ["box", "publish", boxes[(round + 2) % 4]!, "--name", "acme/other", "--version", `2.${round}.0`, "--registry", reg],
        ["box", "rm", `acme/storm@1.${Math.max(1, round - 1)}.0`, "--registry", reg],
      ];
      await Promise.all(
        commands.map(async (args) => {
          spawned++;
          const child = spawn(process.execPath, [CLI, ...args], { stdio: "ignore", env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1" } });
          const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
          // Kills land while Node starts, during the copy, around the catalog switch, and after.
          // Four at once on a shared machine take several spans; one in four is left to finish.
          const delay = Math.random() < 0.25 ? Infinity : span * (0.5 + Math.random() * 3.5);
          const winner = await Promise.race([exited.then(() => "exited"), new Promise((r) => delay !== Infinity && setTimeout(() => r("kill"), delay))]);
          if (winner === "kill") {
            // Was it copying (its upload file exists) when it died?
            const incoming = existsSync(join(reg, ".incoming")) ? readdirSync(join(reg, ".incoming")) : [];
            if (incoming.some((f) => f.startsWith(`${child.pid}.`))) killedCopying++;
            child.kill("SIGKILL");
            killedMidway++;
          }
          await exited;
        }),
      );
    }
    expect(killedMidway).toBeGreaterThanOrEqual(ROUNDS / 2); // the storm really hit running processes

    const report = await runCli(["box", "fsck", "--registry", reg]);
    const kinds = report.stdout
      .split("\n")
      .filter((l) => /^\S+ {2}/.test(l))
      .map((l) => l.split("  ")[0]!);
    const unexpected = kinds.filter((k) => !JUNK.has(k));
    expect(unexpected, report.stdout).toEqual([]);
    const repair = await runCli(["box", "fsck", "--repair", "--registry", reg]);
    expect(repair.code, repair.stdout + repair.stderr).toBe(0);
    const clean = await runCli(["box", "fsck", "--registry", reg]);
    expect(clean.code, clean.stdout).toBe(0);
    expect(clean.stdout).toMatch(/clean/);

    // Every entry's file is whole, is one of the boxes, and the catalogs are valid.
    let entries = 0;
    for (const name of ["storm", "other"]) {
      const file = join(reg, "acme", name, "catalog.json");
      if (!existsSync(file)) continue;
      const c = parseCatalog(readFileSync(file, "utf8"), file);
      for (const v of c.versions) {
        for (const p of v.providers) {
          const body = readFileSync(join(reg, "acme", name, p.url));
          expect(sha256(body)).toBe(p.checksum);
          expect(shas.has(p.checksum)).toBe(true);
          entries++;
        }
      }
    }
    expect(entries).toBeGreaterThan(0);
    expect(readdirSync(join(reg, ".incoming"))).toEqual([]);
    for (let i = 0; i < killedMidway; i++) tally.record("sigkill-storm", true);
    console.log(`adversarial: sigkill-storm-figures publish-ms=${span} processes=${spawned} killed=${killedMidway} killed-while-copying=${killedCopying} junk-found=${kinds.length} (${[...new Set(kinds)].join(", ") || "none"}) entries=${entries}`);
  }, 300_000);
});
