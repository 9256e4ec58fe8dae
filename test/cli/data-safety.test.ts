import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { renderConfig } from "../../src/generate.js";
import { ROOT, runCli } from "../support/cli.js";
import { expectIntact, plant, type Tree } from "../support/planted.js";
import { needTool } from "../support/tools.js";

/**
 * "Never delete or replace what homelab did not write": every command that writes plants a
 * user's files first and proves each one survives, byte for byte, whatever the command answers.
 */
const scratch = realpathSync(mkdtempSync(join(tmpdir(), "homelab-safety-")));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const tmp = () => {
  const dir = join(scratch, String(n++));
  mkdirSync(dir);
  return dir;
};

/** Every file under `dir` (relative names, sorted), directories left out. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

const MARKER = ".homelab-bundle";
const marker = (dir: string) => JSON.parse(readFileSync(join(dir, MARKER), "utf8")) as { generator: string; files: string[]; pending?: unknown };
/** Where no homelab.yaml is written, the embedded default (opt-in); else the project's own config. */
const GEN = ["generate", "--default", "--packer-version", "1.6.6"];
const GEN_PROJECT = ["generate", "--packer-version", "1.6.6"];

describe("homelab generate -o", () => {
  it("refuses `-o .` in a project (exit 2) and leaves every file of it as it was", async () => {
    const dir = tmp();
    const project: Tree = {
      "homelab.yaml": "org: mine\n",
      "src/main.ts": "export {};\n",
      ".git/HEAD": "ref: refs/heads/main\n",
      "notes.md": "# notes\n",
    };
    plant(dir, project);
    const before = listFiles(dir);
    const result = await runCli([...GEN, "-o", "."], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("homelab: .: not empty (.git, homelab.yaml, notes.md, …) and not written by homelab (no .homelab-bundle); refusing to write into it");
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expectIntact(dir, project);
    expect(listFiles(dir)).toEqual(before); // nothing added either: no marker, no staging directory
  });

  it("refuses `-o some-file` (exit 2) and leaves the file as it was", async () => {
    const dir = tmp();
    plant(dir, { "some-file": "mine\n" });
    const result = await runCli([...GEN, "-o", "some-file"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("some-file: exists and is not a directory; refusing to write into it");
    expectIntact(dir, { "some-file": "mine\n" });
    expect(readdirSync(dir)).toEqual(["some-file"]);
  });

  it("writes into an empty directory and marks it with the list of files it wrote", async () => {
    const dir = tmp();
    mkdirSync(join(dir, "out"));
    expect((await runCli([...GEN, "-o", "out"], { cwd: dir })).code).toBe(0);
    const m = marker(join(dir, "out"));
    expect(m.generator).toBe("homelab");
    expect(m.pending).toBeUndefined();
    expect([...m.files, MARKER].sort()).toEqual(listFiles(join(dir, "out")));
  });

  it("regenerating keeps Packer's output/, output-vm/, packer_cache/ and the user's files, and replaces exactly homelab's", async () => {
    const dir = tmp();
    // kubeadm first, then k3s: the two bundles have different scripts, so some of homelab's files must go.
    writeFileSync(join(dir, "homelab.yaml"), "k8s: {distribution: kubeadm}\n");
    expect((await runCli([...GEN_PROJECT, "-o", "bundle"], { cwd: dir })).code).toBe(0);
    const bundle = join(dir, "bundle");
    const first = marker(bundle).files;
    // What `packer build .` leaves in the bundle (see sources.pkr.hcl: output_dir "output",
    // vm_output_dir "output-vm"; Packer 1.6 keeps downloads in ./packer_cache), and a user's files.
    const theirs: Tree = {
      "output/homelab-alpine-3.24-k8snode-kubeadm-libvirt.box": "a 314 MB box\n",
      "output/homelab-libvirt.sha256": "abc  box\n",
      "output-vm/libvirt/packer-homelab": "disk\n",
      "packer_cache/8b3024a97a44f2d143047d1cdaabeb5aa98591d1.iso": "iso\n",
      "notes.md": "mine\n",
      "scripts/my-extra.sh": "echo mine\n", // beside homelab's scripts
      ".git/HEAD": "ref: refs/heads/main\n",
    };
    plant(bundle, theirs);
    writeFileSync(join(dir, "homelab.yaml"), "k8s: {distribution: k3s}\n");
    const again = await runCli([...GEN_PROJECT, "-o", "bundle"], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expectIntact(bundle, theirs);

    // homelab's part is exactly what a fresh generate of the new config writes into an empty directory.
    expect((await runCli([...GEN_PROJECT, "-o", "fresh"], { cwd: dir })).code).toBe(0);
    const second = marker(bundle).files;
    expect(second).toEqual(marker(join(dir, "fresh")).files);
    for (const f of second) expect(readFileSync(join(bundle, f)), f).toEqual(readFileSync(join(dir, "fresh", f)));
    const gone = first.filter((f) => !second.includes(f));
    expect(gone.length).toBeGreaterThan(0); // the kubeadm scripts
    for (const f of gone) expect(existsSync(join(bundle, f)), `${f} (homelab's, stale) survived`).toBe(false);
    expect(listFiles(bundle)).toEqual([...second, MARKER, ...Object.keys(theirs)].sort()); // no scratch left
  });

  it.each([
    ["a name with ..", (outside: string) => ({ files: ["../victim.txt"] }), "contains .."],
    ["an absolute name", (outside: string) => ({ files: [join(outside, "victim.txt")] }), "is absolute"],
    ["a name through a symlink that leads out", () => ({ files: ["link/victim.txt"] }), "leads outside through a symlink"],
    ["a scratch directory outside", () => ({ files: [], pending: { dirs: ["../outside"], files: ["victim.txt"] } }), "not a homelab scratch directory name"],
  ])("an edited marker with %s cannot make it delete a file outside the bundle (exit 2)", async (_what, content, message) => {
    const dir = tmp();
    const outside = join(dir, "outside");
    plant(outside, { "victim.txt": "keep me\n" });
    writeFileSync(join(dir, "victim.txt"), "keep me too\n");
    expect((await runCli([...GEN, "-o", "bundle"], { cwd: dir })).code).toBe(0);
    symlinkSync(outside, join(dir, "bundle", "link"));
    writeFileSync(join(dir, "bundle", MARKER), JSON.stringify({ generator: "homelab", version: "0.1.0", ...content(outside) }));
    const before = listFiles(join(dir, "bundle"));
    const result = await runCli([...GEN, "-o", "bundle"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expectIntact(dir, { "victim.txt": "keep me too\n", "outside/victim.txt": "keep me\n" });
    expect(listFiles(join(dir, "bundle"))).toEqual(before);
  });

  it("a marker that is not homelab's is refused, not trusted", async () => {
    const dir = tmp();
    plant(dir, { "bundle/.homelab-bundle": '{"files": ["notes.md"]}', "bundle/notes.md": "mine\n" });
    const result = await runCli([...GEN, "-o", "bundle"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('.homelab-bundle is not a homelab marker (no "generator": "homelab")');
    expectIntact(dir, { "bundle/notes.md": "mine\n" });
  });

  it("removes a marker's temporary file left by a killed generate, and nothing that only looks like one", async () => {
    const dir = tmp();
    const bundle = join(dir, "bundle");
    expect((await runCli([...GEN, "-o", "bundle"], { cwd: dir })).code).toBe(0);
    const deadPid = Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout);
    const leftover = `.${MARKER}.${deadPid}.0badf00d.tmp`; // what writeFileAtomic names it
    const theirs: Tree = {
      [`.${MARKER}.${process.pid}.0badf00d.tmp`]: "a live process's\n", // this test runner: alive
      [`.${MARKER}.notes.tmp`]: "mine\n",
      [`${MARKER}.${deadPid}.0badf00d.tmp`]: "mine\n", // no leading dot
    };
    plant(bundle, { ...theirs, [leftover]: "{" });
    expect((await runCli([...GEN, "-o", "bundle"], { cwd: dir })).code).toBe(0);
    expect(existsSync(join(bundle, leftover))).toBe(false);
    expectIntact(bundle, theirs);
  });

  it("a kill at any point keeps the user's files and a whole bundle, and the next generate cleans up", async () => {
    const dir = tmp();
    const bundle = join(dir, "bundle");
    const configs = ["k8s: {distribution: kubeadm}\n", "k8s: {distribution: k3s}\n"];
    const renderings = configs.map((yaml) => renderConfig(parseConfig(yaml), { packerVersion: "1.6.6" }).files);
    writeFileSync(join(dir, "homelab.yaml"), configs[0]!);
    expect((await runCli([...GEN_PROJECT, "-o", "bundle"], { cwd: dir })).code).toBe(0);
    const theirs: Tree = { "notes.md": "mine\n", "output/x.box": "box\n", "scripts/mine.sh": "echo mine\n" };
    plant(bundle, theirs);
    // A process that rewrites the bundle over and over, alternating two configs, killed while
    // it stages the new files, in the middle of swapping them in, and as it commits.
    const loop = `
      const { parseConfig } = await import(${JSON.stringify(join(ROOT, "dist/config/load.js"))});
      const { renderConfig } = await import(${JSON.stringify(join(ROOT, "dist/generate.js"))});
      const { writeBundle } = await import(${JSON.stringify(join(ROOT, "dist/bundle/write-bundle.js"))});
      const [a, b] = ${JSON.stringify(configs)}.map((yaml) => renderConfig(parseConfig(yaml), { packerVersion: "1.6.6" }));
      for (let i = 0; ; i++) await writeBundle(i % 2 ? a : b, process.argv[1]);
    `;
    const scratchDirs = (kind: string) => readdirSync(bundle).filter((e) => e.startsWith(`.homelab-${kind}-`));
    const phases = {
      staging: () => scratchDirs("staging").length > 0 && scratchDirs("previous").length === 0,
      swapping: () => scratchDirs("previous").length > 0,
      // Every staged file moved in: the writer is finishing the swap or committing.
      committing: () => scratchDirs("previous").length > 0 && scratchDirs("staging").every((d) => listFiles(join(bundle, d)).length === 0),
    };
    for (const phase of ["staging", "swapping", "swapping", "committing", "committing"] as const) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", loop, bundle], { stdio: "ignore" });
      const closed = new Promise((resolve) => child.once("close", resolve));
      // Watch the directory from here and kill the moment the writer is in the phase wanted.
      const deadline = Date.now() + 30_000;
      let seen = false;
      while (!seen && Date.now() < deadline) {
        try {
          seen = phases[phase]();
        } catch {
          // a scratch directory vanished between readdir and the check: look again
        }
        if (!seen) await new Promise((resolve) => setImmediate(resolve));
      }
      child.kill("SIGKILL");
      await closed;
      expect(seen, `never saw the writer ${phase}`).toBe(true);
      expectIntact(bundle, theirs);
      // One whole bundle, byte for byte, is in place or moved aside: the previous one while the
      // swap is under way, the new one once it is done.
      const places = [bundle, ...scratchDirs("previous").map((d) => join(bundle, d))];
      const has = (name: string, content: string | Uint8Array) =>
        places.some((p) => existsSync(join(p, name)) && readFileSync(join(p, name)).equals(Buffer.from(content)));
      const whole = renderings.some((files) => [...files].every(([name, file]) => has(name, file.content)));
      expect(whole, `no whole bundle left after a kill while ${phase}`).toBe(true);
      // And every file of ours in place is listed, so the next write replaces or removes it.
      const listed = new Set(marker(bundle).files);
      for (const files of renderings) for (const name of files.keys()) if (existsSync(join(bundle, name))) expect(listed.has(name), name).toBe(true);
    }
    const result = await runCli([...GEN_PROJECT, "-o", "bundle"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expectIntact(bundle, theirs);
    const m = marker(bundle);
    expect(m.pending).toBeUndefined();
    expect(listFiles(bundle)).toEqual([...m.files, MARKER, ...Object.keys(theirs)].sort());
    expect(readdirSync(bundle).filter((e) => e.startsWith(".homelab-") && e !== MARKER)).toEqual([]);
  }, 180_000); // four writers started and watched; slow on a loaded machine
});

describe("homelab init", () => {
  it("refuses to overwrite a homelab.schema.json it did not write (exit 2) and then writes neither file", async () => {
    const dir = tmp();
    const theirs: Tree = { "homelab.schema.json": '{"title": "my own schema"}\n', "README.md": "mine\n" };
    plant(dir, theirs);
    const result = await runCli(["init"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("homelab.schema.json already exists and was not written by homelab (use --force to overwrite it)");
    expectIntact(dir, theirs);
    expect(existsSync(join(dir, "homelab.yaml"))).toBe(false);
  });

  it("refuses to overwrite an existing homelab.yaml (exit 2), and refreshes a schema it wrote itself", async () => {
    const dir = tmp();
    expect((await runCli(["init"], { cwd: dir })).code).toBe(0);
    writeFileSync(join(dir, "homelab.yaml"), "org: mine\n");
    const again = await runCli(["init"], { cwd: dir });
    expect(again.code).toBe(2);
    expectIntact(dir, { "homelab.yaml": "org: mine\n" });
    // An older homelab's schema (same $id, other content) is homelab's own: init may refresh it.
    const schema = JSON.parse(readFileSync(join(dir, "homelab.schema.json"), "utf8"));
    writeFileSync(join(dir, "homelab.schema.json"), JSON.stringify({ $id: schema.$id, title: "older" }));
    rmSync(join(dir, "homelab.yaml"));
    expect((await runCli(["init"], { cwd: dir })).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "homelab.schema.json"), "utf8"))).toEqual(schema);
  });

  it("refuses a directory where a file goes, even with --force, without a stack trace", async () => {
    const dir = tmp();
    plant(dir, { "homelab.yaml/inside.txt": "mine\n" });
    const result = await runCli(["init", "--force"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("homelab: homelab.yaml is a directory; init writes a file there\n");
    expectIntact(dir, { "homelab.yaml/inside.txt": "mine\n" });
  });

  it("--force overwrites the config and schema (asked for), and nothing else", async () => {
    const dir = tmp();
    plant(dir, { "homelab.yaml": "org: mine\n", "homelab.schema.json": "{}\n", "notes.md": "mine\n" });
    expect((await runCli(["init", "--force"], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, "homelab.yaml"), "utf8")).toMatch(/^# yaml-language-server/);
    expectIntact(dir, { "notes.md": "mine\n" });
    expect(readdirSync(dir).sort()).toEqual([".gitignore", "homelab.schema.json", "homelab.yaml", "notes.md"]);
  });
});

describe("homelab build: the build directory", () => {
  it.skipIf(!needTool("packer"))("a forced rebuild (here: one that fails in Packer) keeps the user's files in .homelab/builds/<hash>/", async () => {
    const dir = tmp();
    // A real Packer run that fails fast and offline: the mirror is a closed port on loopback, so
    // the ISO download is refused at once (a wrong base image checksum is caught before Packer).
    writeFileSync(join(dir, "homelab.yaml"), "org: acme\nalpine:\n  mirror: http://127.0.0.1:9/alpine\n");
    const first = await runCli(["build", "--accel", "tcg", "--no-version-check"], { cwd: dir });
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toContain("error downloading ISO");
    const builds = join(dir, ".homelab", "builds");
    const [hash] = readdirSync(builds);
    const buildDir = join(builds, hash!);
    const theirs: Tree = {
      "notes.md": "mine\n",
      "boxes/mine.box": "my own box\n",
      "boxes/README": "mine\n",
      "bundle/notes.md": "mine\n",
      "bundle/output/x.box": "from my own packer build .\n",
      "logs/mine.log": "mine\n",
      "vm/disk": "mine\n", // homelab < this change used vm/ as scratch: never removed now
      ".attempt-notes": "mine\n", // not an attempt directory name
    };
    plant(buildDir, theirs);
    const logsBefore = readdirSync(join(buildDir, "logs")).length;
    const again = await runCli(["build", "--accel", "tcg", "--force"], { cwd: dir });
    expect(again.code).toBe(1);
    expectIntact(buildDir, theirs);
    // The attempt's scratch directory is gone; one more attempt's logs, the previous ones kept.
    expect(readdirSync(buildDir).filter((e) => /^\.attempt-\d+-/.test(e))).toEqual([]);
    expect(readdirSync(join(buildDir, "logs")).length).toBe(logsBefore + 2); // Packer's log and the plain one
    expect(statSync(join(buildDir, "bundle", MARKER)).isFile()).toBe(true);
  });
});
