import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { fakePacker } from "../support/fake-packer.js";

/**
 * Real build directories, written by `homelab build` around a fake Packer (test/support/fake-packer.ts),
 * next to files a user put in .homelab/ — which clean must never remove.
 */
describe("homelab builds and homelab clean", () => {
  let dir: string;
  const builds = () => join(dir, ".homelab", "builds");
  const hashes: Record<string, string> = {};
  const FOREIGN_HASH = "f".repeat(64);

  async function build(yaml: string, mode: "success" | "failure"): Promise<string> {
    writeFileSync(join(dir, "homelab.yaml"), yaml);
    const before = new Set(existsSync(builds()) ? readdirSync(builds()) : []);
    const result = await runCli(["build", "--accel", "tcg"], { cwd: dir, env: { HOMELAB_PACKER: fakePacker(mode).binary } });
    expect(result.code, result.stderr).toBe(mode === "success" ? 0 : 1);
    return readdirSync(builds()).find((h) => !before.has(h))!;
  }

  /** Plants what a user might keep in .homelab/, and returns the paths that must survive. */
  function plant(): string[] {
    const files = [
      join(dir, ".homelab", "notes.txt"),
      join(builds(), "README.md"),
      join(builds(), "mine", "keep.txt"),
      join(builds(), FOREIGN_HASH, "bundle", "x.txt"),
      join(builds(), FOREIGN_HASH, "my-notes.txt"),
      join(builds(), hashes.unfinished!, "my-notes.txt"),
    ];
    for (const f of files) {
      mkdirSync(join(f, ".."), { recursive: true });
      writeFileSync(f, "the user's\n");
    }
    return files;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "homelab-builds-"));
    hashes.old = await build("org: old\nk8s: {distribution: kubeadm}\n", "success");
    hashes.failed = await build("org: failed\nk8s: {distribution: kubeadm}\n", "failure");
    hashes.unfinished = await build("org: unfinished\nk8s: {distribution: kubeadm}\n", "failure");
    hashes.newest = await build("org: newest\nk8s: {distribution: kubeadm}\n", "success");
  }, 120_000);

  it("lists each build with its box, size, age and config; what is not homelab's is named, not listed", async () => {
    const planted = plant();
    const result = await runCli(["builds"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split("\n");
    expect(lines[0]).toMatch(/^HASH +BOX +VERSION +STATE +SIZE +AGE +CONFIG$/);
    expect(lines[1]).toMatch(new RegExp(`^${hashes.newest!.slice(0, 12)} +newest/alpine-3\\.24-k8snode-kubeadm +0\\.1\\.0 +finished +3\\.\\d MiB +\\d+ seconds? ago +homelab\\.yaml$`));
    expect(result.stdout).toMatch(new RegExp(`^${hashes.old!.slice(0, 12)} +old/alpine-3\\.24-k8snode-kubeadm .* finished `, "m"));
    expect(result.stdout).toMatch(new RegExp(`^${hashes.failed!.slice(0, 12)} +- +- +unfinished `, "m"));
    expect(result.stdout).toMatch(/^3 builds, .* in \.homelab\/builds/m);
    expect(result.stderr).toContain(`builds/${hashes.unfinished}: not listed (holds "my-notes.txt", which homelab did not write)`);
    expect(result.stderr).toContain("builds/mine: not listed (not named by a bundle hash)");
    expect(result.stderr).toContain("builds/README.md: not listed (not a directory)");
    for (const f of planted) expect(existsSync(f)).toBe(true);
  });

  it("clean --dry-run says what it would remove and removes nothing", async () => {
    const before = readdirSync(builds()).sort();
    const result = await runCli(["clean", "--dry-run"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`would remove ${hashes.old!.slice(0, 12)} old/alpine-3.24-k8snode-kubeadm 0.1.0 (3.`);
    expect(result.stdout).toContain(`would remove ${hashes.failed!.slice(0, 12)} (unfinished)`);
    expect(result.stdout).toContain(`kept ${hashes.newest!.slice(0, 12)} newest/`);
    expect(readdirSync(builds()).sort()).toEqual(before);
  });

  it("clean keeps the newest finished build, removes the rest homelab wrote, and leaves a running build", async () => {
    const planted = plant();
    // A build in progress (its VM disk is there): never removed.
    const busy = "b".repeat(64);
    mkdirSync(join(builds(), busy, "vm"), { recursive: true });
    mkdirSync(join(builds(), busy, "logs"));
    const result = await runCli(["clean"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`left ${busy.slice(0, 12)} (busy): a build is running in it`);
    expect(readdirSync(builds()).sort()).toEqual([busy, hashes.newest, hashes.unfinished, "README.md", FOREIGN_HASH, "mine"].sort());
    for (const f of planted) expect(readFileSync(f, "utf8")).toBe("the user's\n");
    expect(result.stdout).toMatch(/^freed \d+\.\d MiB$/m);
    // The kept build is still a cache hit.
    writeFileSync(join(dir, "homelab.yaml"), "org: newest\nk8s: {distribution: kubeadm}\n");
    const again = await runCli(["build", "--accel", "tcg"], { cwd: dir, env: { HOMELAB_PACKER: fakePacker("failure").binary } });
    expect(again.stdout).toContain("cache hit");
  });

  it("clean --all removes every build homelab wrote, and nothing else", async () => {
    const planted = plant();
    const result = await runCli(["clean", "--all"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(builds())).not.toContain(hashes.newest);
    for (const f of planted) expect(readFileSync(f, "utf8")).toBe("the user's\n");
    expect(existsSync(join(dir, ".homelab", "notes.txt"))).toBe(true);
    expect((await runCli(["clean", "--keep", "x"], { cwd: dir })).code).toBe(2);
  });
});
