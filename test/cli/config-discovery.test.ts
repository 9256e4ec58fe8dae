import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { fakePacker } from "../support/fake-packer.js";

/** A fresh directory that stands for a repository (its .git stops the upward search). */
function repo(): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-discovery-"));
  mkdirSync(join(dir, ".git"));
  return dir;
}

describe("finding the project's config", () => {
  it("validate in a subdirectory finds the config of the directory above, like git", async () => {
    const dir = repo();
    writeFileSync(join(dir, "homelab.yaml"), "org: upstairs\n");
    mkdirSync(join(dir, "docs", "deep"), { recursive: true });
    const result = await runCli(["validate"], { cwd: join(dir, "docs", "deep") });
    expect(result).toMatchObject({ code: 0, stdout: "../../homelab.yaml: ok (upstairs/alpine-3.24-base)\n" });
  });

  it("a relative base.image is relative to the config found above, not to where homelab runs", async () => {
    const dir = repo();
    writeFileSync(join(dir, "homelab.yaml"), "debian: {}\nbase: {image: ./img/base.qcow2, checksum: 'sha256:" + "a".repeat(64) + "'}\n");
    mkdirSync(join(dir, "sub"));
    const result = await runCli(["generate", "--packer-version", "1.6.6", "-o", "out"], { cwd: join(dir, "sub") });
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(join(dir, "sub", "out"))).toContain("build.pkr.hcl");
  });

  it("accepts homelab.yml", async () => {
    const dir = repo();
    writeFileSync(join(dir, "homelab.yml"), "org: yml\n");
    expect(await runCli(["validate"], { cwd: dir })).toMatchObject({ code: 0, stdout: "homelab.yml: ok (yml/alpine-3.24-base)\n" });
  });

  it("refuses to guess between homelab.yaml and homelab.yml (exit 2)", async () => {
    const dir = repo();
    writeFileSync(join(dir, "homelab.yaml"), "org: a\n");
    writeFileSync(join(dir, "homelab.yml"), "org: b\n");
    const result = await runCli(["validate"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("both homelab.yaml and homelab.yml exist; keep one");
  });

  it("without a config, says how to get one (exit 2) and builds nothing", async () => {
    const dir = repo();
    const packer = fakePacker("success");
    for (const cmd of [["validate"], ["generate"], ["build", "--accel", "tcg"], ["versions", "check"], ["versions", "bump"]]) {
      const result = await runCli(cmd, { cwd: dir, env: { HOMELAB_PACKER: packer.binary } });
      expect(result.code, `${cmd.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain(`no homelab.yaml (or homelab.yml) in ${dir}`);
      expect(result.stderr).toContain("homelab init");
    }
    expect(packer.calls()).not.toContain("build");
    expect(readdirSync(dir)).toEqual([".git"]);
  });

  it("stops at the top of the repository: a homelab.yaml above it belongs to someone else", async () => {
    const outer = mkdtempSync(join(tmpdir(), "homelab-discovery-"));
    writeFileSync(join(outer, "homelab.yaml"), "org: outer\n");
    mkdirSync(join(outer, "project", ".git"), { recursive: true });
    mkdirSync(join(outer, "project", "src"));
    const result = await runCli(["validate"], { cwd: join(outer, "project", "src") });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`or its parents up to ${join(outer, "project")}`);
    // Outside any repository the search goes on up and finds it.
    mkdirSync(join(outer, "loose"));
    expect((await runCli(["validate"], { cwd: join(outer, "loose") })).stdout).toBe("../homelab.yaml: ok (outer/alpine-3.24-base)\n");
  });

  it("--default uses the embedded default and says so; with -c it is a usage error", async () => {
    const dir = repo();
    expect(await runCli(["validate", "--default"], { cwd: dir })).toMatchObject({
      code: 0,
      stdout: "(embedded default): ok (homelab/alpine-3.24-k8snode-kubeadm)\n",
    });
    writeFileSync(join(dir, "homelab.yaml"), "org: mine\n");
    expect((await runCli(["validate", "--default"], { cwd: dir })).stdout).toContain("(embedded default)");
    const both = await runCli(["validate", "--default", "-c", "homelab.yaml"], { cwd: dir });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("-c/--config and --default: choose one");
  });

  it("build in a subdirectory keeps its state beside the config (.homelab at the project's top)", async () => {
    const dir = repo();
    writeFileSync(join(dir, "homelab.yaml"), "k8s: {distribution: kubeadm}\n");
    mkdirSync(join(dir, "sub"));
    const packer = fakePacker("success");
    const result = await runCli(["build", "--accel", "tcg"], { cwd: join(dir, "sub"), env: { HOMELAB_PACKER: packer.binary } });
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(join(dir, ".homelab", "builds"))).toHaveLength(1);
    expect(readdirSync(join(dir, "sub"))).toEqual([]);
    expect(result.stdout).toMatch(/ {2}libvirt: \.\.\/\.homelab\/builds\/[0-9a-f]+\/boxes\//);
  });
});
