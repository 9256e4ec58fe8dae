import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkRecord, type BuildRecord } from "../../src/builder/record.js";
import { OutsideRootError, resolveInside as resolveInsideSync } from "../../src/fs/contain.js";

const resolveInside = async (root: string, ...names: string[]): Promise<string> => resolveInsideSync(root, ...names);
import { runCli } from "../support/cli.js";
import { Sentinel } from "../support/sentinel-file.js";
import { needTool } from "../support/tools.js";

/**
 * build.json decides whether `homelab build` is a cache hit. A record that is damaged, from
 * another build, or that points a box outside the build directory (a path with `..`, an absolute
 * path, a symbolic link) must mean "rebuild", with the reason, and never a crash or a hit.
 * The sentinel stands for a user's file the record points at: it is never read or removed.
 */

const HASH = "c0ffee".padEnd(64, "0");
const SHA = "ab".repeat(32);
let sentinel: Sentinel;
let size: number;

beforeAll(() => {
  expect(Sentinel.readsAreVisible()).toBe(true);
  sentinel = Sentinel.plant();
  size = statSync(sentinel.path).size;
});
afterAll(() => {
  sentinel.expectUntouched();
  sentinel.remove();
});

function record(overrides: Partial<BuildRecord> = {}): BuildRecord {
  return {
    hash: HASH,
    boxName: "acme/alpine-3.24-base",
    boxVersion: "0.1.0",
    config: "homelab.yaml",
    homelab: "0.1.0",
    packer: { binary: "/usr/bin/packer", version: "1.6.6" },
    startedAt: "2026-01-01T00:00:00.000Z",
    endedAt: "2026-01-01T00:10:00.000Z",
    durationMs: 600_000,
    boxes: [{ provider: "libvirt", file: "boxes/acme-libvirt.box", size, sha256: SHA }],
    log: "logs/x.log",
    ...overrides,
  };
}

/** A build directory named by HASH, with a box file of the sentinel's size and the given build.json. */
function buildDir(json: unknown, opts: { raw?: string } = {}): string {
  const dir = join(mkdtempSync(join(tmpdir(), "homelab-record-")), "builds", HASH);
  mkdirSync(join(dir, "boxes"), { recursive: true });
  writeFileSync(join(dir, "boxes", "acme-libvirt.box"), "x".repeat(size));
  writeFileSync(join(dir, "build.json"), opts.raw ?? JSON.stringify(json));
  return dir;
}

const box = (file: string) => [{ provider: "libvirt" as const, file, size, sha256: SHA }];

describe("checkRecord: anything odd is a rebuild with a reason", () => {
  const cases: Array<[string, () => string, RegExp | undefined]> = [
    ["no build.json", () => {
      const dir = buildDir({});
      execFileSync("rm", [join(dir, "build.json")]);
      return dir;
    }, undefined],
    ["build.json is null", () => buildDir(null), /not a build record \(top level/],
    ['{"boxes": 5}', () => buildDir({ boxes: 5 }), /not a build record/],
    ["only boxes", () => buildDir({ boxes: box("boxes/acme-libvirt.box") }), /not a build record \(hash/],
    ["not JSON", () => buildDir(undefined, { raw: "{oops" }), /not valid JSON/],
    ["another build's record", () => buildDir(record({ hash: "f".repeat(64) })), /records build ffffffffffff, not this one/],
    ["no box for the provider", () => buildDir(record({ boxes: [] })), /lists no libvirt box/],
    ["box of another size", () => buildDir(record({ boxes: [{ ...box("boxes/acme-libvirt.box")[0]!, size: size + 1 }] })), /has \d+ bytes, the record says/],
    ["box path with ..", () => buildDir(record({ boxes: box(`../../../../../../../..${sentinel.path}`) })), /contains \.\./],
    ["absolute box path", () => buildDir(record({ boxes: box(sentinel.path) })), /is absolute/],
    ["box path with NUL", () => buildDir(record({ boxes: box("boxes/a\u0000.box") })), /NUL/],
    ["box is a symlink out", () => {
      const dir = buildDir(record({ boxes: box("boxes/link.box") }));
      symlinkSync(sentinel.path, join(dir, "boxes", "link.box"));
      return dir;
    }, /leads outside through a symlink/],
    ["boxes/ is a symlink out", () => {
      const dir = buildDir(record({ boxes: box("boxes2/users-file.txt") }));
      symlinkSync(sentinel.dir, join(dir, "boxes2"));
      return dir;
    }, /leads outside through a symlink/],
    ["build.json is a symlink out", () => {
      const dir = buildDir(record());
      execFileSync("rm", [join(dir, "build.json")]);
      symlinkSync(sentinel.path, join(dir, "build.json"));
      return dir;
    }, /build\.json: .*leads outside/],
    ["build.json is a FIFO", () => {
      const dir = buildDir(record());
      execFileSync("rm", [join(dir, "build.json")]);
      execFileSync("mkfifo", [join(dir, "build.json")]);
      return dir;
    }, /a FIFO, expected a regular file/],
    ["build.json is a directory", () => {
      const dir = buildDir(record());
      execFileSync("rm", [join(dir, "build.json")]);
      mkdirSync(join(dir, "build.json"));
      return dir;
    }, /a directory, expected a regular file/],
  ];

  it.each(cases)("%s", async (_name, make, reason) => {
    const check = await checkRecord(make(), ["libvirt"]);
    expect(check).not.toHaveProperty("record");
    expect(check).toEqual({ reason: reason === undefined ? undefined : expect.stringMatching(reason) });
  });

  it("a complete record whose boxes are in place is a hit, links inside the directory included", async () => {
    const dir = buildDir(record({ boxes: box("boxes/alias.box") }));
    symlinkSync("acme-libvirt.box", join(dir, "boxes", "alias.box"));
    const check = await checkRecord(dir, ["libvirt"]);
    expect(check).toEqual({ record: record({ boxes: box("boxes/alias.box") }) });
  });
});

describe("resolveInside", () => {
  it("returns the real path inside the root, for existing and not yet existing paths", async () => {
    const root = mkdtempSync(join(tmpdir(), "homelab-contain-"));
    mkdirSync(join(root, "a"));
    symlinkSync("a", join(root, "b"));
    const real = statSync(root) && execFileSync("realpath", [root], { encoding: "utf8" }).trim();
    // Inside the root a symlink is fine; the path is built on the root's real path.
    expect(await resolveInside(root, "b", "new", "file")).toBe(join(real, "b", "new", "file"));
    expect(await resolveInside(root)).toBe(real);
  });

  it.each([
    ["/etc/passwd", /is absolute/],
    ["a/../../x", /contains \.\./],
    ["..", /contains \.\./],
    ["a\u0000b", /NUL/],
  ])("refuses %j", async (segment, says) => {
    const root = mkdtempSync(join(tmpdir(), "homelab-contain-"));
    const err = await resolveInside(root, segment).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutsideRootError);
    expect((err as Error).message).toMatch(says);
    expect((err as OutsideRootError).exitCode).toBe(2);
  });
});

describe.skipIf(!needTool("packer"))("homelab build with a planted record (real Packer, loopback mirror that refuses)", () => {
  // The mirror is a closed port on 127.0.0.1: a rebuild fails at the ISO download within seconds.
  const CONFIG = "org: acme\nalpine:\n  mirror: http://127.0.0.1:9/alpine\n";

  async function plantedBuild(plant: (dir: string, hash: string) => void) {
    const cwd = mkdtempSync(join(tmpdir(), "homelab-record-cli-"));
    writeFileSync(join(cwd, "homelab.yaml"), CONFIG);
    // A first, failing build names the build directory (the bundle's content hash).
    const first = await runCli(["build", "--no-version-check"], { cwd });
    expect(first.code, first.stderr).toBe(1);
    const [hash] = readdirSync(join(cwd, ".homelab", "builds"));
    const dir = join(cwd, ".homelab", "builds", hash!);
    mkdirSync(join(dir, "boxes"), { recursive: true });
    writeFileSync(join(dir, "boxes", "acme-libvirt.box"), "x".repeat(size));
    plant(dir, hash!);
    return { cwd, run: () => runCli(["build", "--no-version-check"], { cwd }) };
  }

  it("a complete record is a cache hit that names the box", async () => {
    const { run } = await plantedBuild((dir, hash) => writeFileSync(join(dir, "build.json"), JSON.stringify(record({ hash }))));
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^acme\/alpine-3\.24-base 0\.1\.0: cache hit \(built 2026-01-01T00:10:00\.000Z; --force rebuilds\)\n  libvirt: \S+acme-libvirt\.box/);
  });

  it("a record with only boxes, and one pointing at a user's file, are rebuilt with a notice", async () => {
    const onlyBoxes = await plantedBuild((dir) => writeFileSync(join(dir, "build.json"), JSON.stringify({ boxes: box("boxes/acme-libvirt.box") })));
    const a = await onlyBoxes.run();
    expect(a.stdout).not.toMatch(/undefined|cache hit/);
    expect(a.stderr).toMatch(/not a cache hit: build\.json is not a build record \(hash: [^\n]*\); rebuilding/);
    expect(a.code).toBe(1);
    expect(a.stderr).not.toMatch(/\n\s+at /);

    const escaping = await plantedBuild((dir, hash) => {
      symlinkSync(sentinel.path, join(dir, "boxes", "users.box"));
      writeFileSync(join(dir, "build.json"), JSON.stringify(record({ hash, boxes: box("boxes/users.box") })));
    });
    const b = await escaping.run();
    expect(b.stdout).not.toMatch(/cache hit/);
    expect(b.stderr).toMatch(/not a cache hit: libvirt box "boxes\/users\.box" under .*: refused, it leads outside through a symlink/);
    expect(b.code).toBe(1);
    sentinel.expectUntouched();
  });
});
