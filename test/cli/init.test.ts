import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { starterConfig } from "../../src/config/starter.js";
import { runCli } from "../support/cli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "homelab-init-"));

describe("homelab init and .gitignore", () => {
  it("creates a .gitignore with .homelab/ when there is none", async () => {
    const dir = tmp();
    const result = await runCli(["init"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("wrote .gitignore");
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toBe("# homelab's builds (homelab build)\n.homelab/\n");
  });

  it("adds .homelab/ to a user's .gitignore without touching their lines, once", async () => {
    const dir = tmp();
    writeFileSync(join(dir, ".gitignore"), "node_modules\n# mine\n*.qcow2"); // no newline at the end
    expect((await runCli(["init"], { cwd: dir })).stdout).toContain("added .homelab/ to .gitignore");
    const after = readFileSync(join(dir, ".gitignore"), "utf8");
    expect(after).toBe("node_modules\n# mine\n*.qcow2\n# homelab's builds (homelab build)\n.homelab/\n");
    const again = await runCli(["init", "--force"], { cwd: dir });
    expect(again.stdout).not.toContain(".gitignore");
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toBe(after);
  });

  it.each(["/.homelab", ".homelab", "/.homelab/"])("leaves a .gitignore that already says %s byte for byte", async (line) => {
    const dir = tmp();
    const text = `dist/\r\n${line}\r\n`;
    writeFileSync(join(dir, ".gitignore"), text);
    expect((await runCli(["init"], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toBe(text);
  });
});

describe("the starter's commented alternatives", () => {
  it("uncommenting debian (instead of alpine) gives a valid Debian config", async () => {
    const dir = tmp();
    const text = starterConfig()
      .replace(/^alpine:\n(?: {2}.*\n)+/m, "")
      .replace("# debian: {}", "debian: {}");
    writeFileSync(join(dir, "homelab.yaml"), text);
    expect(await runCli(["validate"], { cwd: dir })).toMatchObject({ code: 0, stdout: "homelab.yaml: ok (homelab/debian-12-k8snode-kubeadm)\n" });
  });

  it("uncommenting base (with a checksum filled in) gives a valid config", async () => {
    const dir = tmp();
    const text = starterConfig()
      .replace(/^# base:\n((?:# {3}.*\n)+)/m, (_, body: string) => `base:\n${body.replace(/^# /gm, "")}`)
      .replace("sha256:<64 hex digits>", `sha256:${"0".repeat(64)}`);
    expect(text).toMatch(/^base:\n {2}image: \.\/debian-12\.qcow2/m);
    writeFileSync(join(dir, "homelab.yaml"), text);
    const result = await runCli(["validate"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
  });
});
