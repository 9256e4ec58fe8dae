import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { renderConfig } from "../../src/generate.js";
import { writeBundle } from "../../src/bundle/write-bundle.js";
import { runCli } from "../support/cli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "homelab-cli-"));

describe("homelab generate", () => {
  it("generates the embedded default with --default, and says so", async () => {
    const dir = tmp();
    const result = await runCli(["generate", "--default", "--packer-version", "1.6.6"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\(embedded default\): wrote homelab-bundle\/ \(\d+ files\) for homelab\/alpine-3\.24-k8snode-kubeadm/);
    expect(result.stdout).toMatch(/content hash sha256:[0-9a-f]{64}/);
    expect(readdirSync(join(dir, "homelab-bundle")).sort()).toEqual([
      ".homelab-bundle",
      "README.md",
      "build.pkr.hcl",
      "homelab.auto.pkrvars.hcl",
      "http",
      "scripts",
      "sources.pkr.hcl",
      "variables.pkr.hcl",
    ]);
  });

  it("is deterministic: same config, byte-identical bundle and the same hash", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "homelab.yaml"), "k8s: {distribution: k3s}\nproviders: [libvirt, virtualbox]\n");
    const a = await runCli(["generate", "-o", "a", "--packer-version", "1.6.6"], { cwd: dir });
    const b = await runCli(["generate", "-o", "b", "--packer-version", "1.6.6"], { cwd: dir });
    const hash = (s: string) => /sha256:([0-9a-f]{64})/.exec(s)![1];
    expect(hash(a.stdout)).toBe(hash(b.stdout));
    for (const f of ["build.pkr.hcl", "sources.pkr.hcl", "variables.pkr.hcl", "homelab.auto.pkrvars.hcl", "http/answers"]) {
      expect(readFileSync(join(dir, "a", f))).toEqual(readFileSync(join(dir, "b", f)));
    }
    // A different config gives a different hash.
    writeFileSync(join(dir, "homelab.yaml"), "k8s: {distribution: k3s, bake: binary}\n");
    const c = await runCli(["generate", "-o", "c", "--packer-version", "1.6.6"], { cwd: dir });
    expect(hash(c.stdout)).not.toBe(hash(a.stdout));
  });

  it("refuses a non-empty directory it did not write, and changes nothing in it (exit 2)", async () => {
    const dir = tmp();
    mkdirSync(join(dir, "homelab-bundle", "scripts"), { recursive: true });
    writeFileSync(join(dir, "homelab-bundle", "scripts", "mine.sh"), "mine");
    const result = await runCli(["generate", "--default"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("homelab-bundle: not empty (scripts) and not written by homelab (no .homelab-bundle); refusing to write into it");
    expect(result.stderr).toContain("choose a new directory with -o");
    expect(readdirSync(join(dir, "homelab-bundle"))).toEqual(["scripts"]);
    expect(readFileSync(join(dir, "homelab-bundle", "scripts", "mine.sh"), "utf8")).toBe("mine");
  });

  it("leaves the previous bundle untouched and no staging directory when writing fails", async () => {
    const dir = tmp();
    const out = join(dir, "bundle");
    await writeBundle(renderConfig(parseConfig("org: first\n")), out);
    const before = readFileSync(join(out, "README.md"), "utf8");
    const rendered = renderConfig(parseConfig("org: second\n"));
    const listing = readdirSync(out).sort();
    // A file that cannot be written (a path under a file, README.md is written first) makes the write fail midway.
    rendered.files.set("README.md/oops", { content: "x", mode: 0o644 });
    await expect(writeBundle(rendered, out)).rejects.toThrow(/could not write the bundle/);
    expect(readFileSync(join(out, "README.md"), "utf8")).toBe(before);
    expect(readdirSync(dir)).toEqual(["bundle"]);
    expect(readdirSync(out).sort()).toEqual(listing); // no scratch directory left, the marker as it was
  });

  it("exits 2 with a clear message when the named config does not exist", async () => {
    const result = await runCli(["generate", "-c", "nope.yaml"], { cwd: tmp() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("nope.yaml: no such file (run `homelab init` to write a starter config)");
  });
});

describe("homelab init, validate, schema and --help", () => {
  it("init writes a commented starter config that validates and references the schema", async () => {
    const dir = tmp();
    expect((await runCli(["init"], { cwd: dir })).code).toBe(0);
    const text = readFileSync(join(dir, "homelab.yaml"), "utf8");
    expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=./homelab.schema.json");
    const schema = JSON.parse(readFileSync(join(dir, "homelab.schema.json"), "utf8"));
    expect(Object.keys(schema.properties)).toEqual(["org", "alpine", "debian", "base", "k8s", "providers", "vm", "box", "cluster"]);
    expect(schema.properties.k8s.properties.distribution.enum).toEqual(["kubeadm", "k3s"]);
    expect(schema.additionalProperties).toBe(false);
    const validate = await runCli(["validate"], { cwd: dir });
    expect(validate).toMatchObject({ code: 0, stdout: "homelab.yaml: ok (homelab/alpine-3.24-k8snode-kubeadm)\n" });
    // A second init refuses to overwrite.
    const again = await runCli(["init"], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
  });

  it("schema prints the same JSON Schema init writes", async () => {
    const dir = tmp();
    await runCli(["init"], { cwd: dir });
    const printed = await runCli(["schema"], { cwd: dir });
    expect(JSON.parse(printed.stdout)).toEqual(JSON.parse(readFileSync(join(dir, "homelab.schema.json"), "utf8")));
  });

  it.each(["init", "validate", "generate", "schema"])("%s --help explains the command and exits 0", async (cmd) => {
    const result = await runCli([cmd, "--help"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: homelab ${cmd}`));
  });

  it("an unknown command or flag is a usage error (exit 2)", async () => {
    expect((await runCli(["frobnicate"])).code).toBe(2);
    expect((await runCli(["generate", "--no-such-flag"])).code).toBe(2);
  });
});
