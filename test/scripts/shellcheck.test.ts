import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { renderConfig } from "../../src/generate.js";
import { needTool } from "../support/tools.js";

const PARTS_DIR = fileURLToPath(new URL("../../assets/scripts/", import.meta.url));

/** Every family × distribution × bake a config can ask for. */
const FLAVOURS = ["alpine", "debian"].flatMap((family) =>
  [undefined, "kubeadm", "k3s"].flatMap((distribution) =>
    (distribution === undefined ? [undefined] : ["airgap", "binary", "none"]).map((bake) => ({
      name: `${family}/${distribution ?? "no-k8s"}${bake ? `/${bake}` : ""}`,
      yaml: `${family === "debian" ? "debian: {}\n" : ""}${distribution ? `k8s: {distribution: ${distribution}, bake: ${bake}}\n` : ""}`,
    })),
  ),
);

/** Each distinct script text the bundles ship, with the flavours that ship it. */
const shipped = new Map<string, { text: string; flavours: string[] }>();
for (const flavour of FLAVOURS) {
  for (const [path, file] of renderConfig(parseConfig(flavour.yaml || "org: a\n")).files) {
    if (!path.startsWith("scripts/")) continue;
    const key = `${flavour.name.split("/")[0]}: ${path}`;
    const seen = shipped.get(key) ?? { text: String(file.content), flavours: [] };
    // A step's script depends only on the family: the config reaches it through its environment.
    expect(String(file.content), `${key} in ${flavour.name}`).toBe(seen.text);
    seen.flavours.push(flavour.name);
    shipped.set(key, seen);
  }
}

function shellParts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? shellParts(join(dir, e.name)) : e.name.endsWith(".sh") ? [relative(PARTS_DIR, join(dir, e.name))] : [],
  );
}

describe("the composed scripts", () => {
  it.each([...shipped].map(([key, s]) => [key, s.text]))("%s is its parts, verbatim, after a marker each", (_key, text) => {
    const [head, ...chunks] = text.split(/^# --- part: (\S+) ---\n/m);
    expect(head).toMatch(/^#!\/bin\/sh\n(#.*\n)+STEP=[a-z0-9-]+\n$/);
    expect(chunks.length).toBeGreaterThan(0);
    for (let i = 0; i < chunks.length; i += 2) {
      expect(`${chunks[i + 1]}`).toBe(readFileSync(join(PARTS_DIR, chunks[i]!), "utf8"));
    }
  });

  it("use every part under assets/scripts (nothing shipped with homelab is left out of a bundle)", () => {
    const used = new Set([...shipped.values()].flatMap((s) => [...s.text.matchAll(/^# --- part: (\S+) ---$/gm)].map((m) => m[1])));
    expect(shellParts(PARTS_DIR).filter((p) => !used.has(p))).toEqual([]);
    // The shared parts by name: each one reaches a bundle (so the sandbox suites run it).
    for (const part of ["lib/log.sh", "lib/download.sh", "lib/checks.sh", "lib/mount.sh", "alpine/os.sh", "alpine/kubelet.sh", "debian/os.sh", "debian/kubelet.sh"]) {
      expect(used.has(part), part).toBe(true);
    }
  });

  // Each part, and a script that carries it in both families; the sandbox suite named runs that
  // script, so the part runs there (a part dropped from its script fails here, not silently).
  it.each([
    ["lib/offline.sh", "k8s-boot-check", "boot-check.test.ts"],
    ["lib/toml.sh", "k8s-containerd", "containerd.test.ts"],
    ["lib/verify_sha256.sh", "k8s-kubeadm", "kubeadm.test.ts"],
    ["lib/write_file.sh", "k8s-kernel", "kernel-swap.test.ts"],
    ["steps/cni.sh", "k8s-cni", "cni.test.ts"],
    ["steps/swap.sh", "k8s-swap", "kernel-swap.test.ts"],
    ["steps/sysprep.sh", "sysprep", "sysprep.test.ts"],
  ])("%s is in both families' %s.sh (run by %s)", (part, script, suite) => {
    expect(readdirSync(fileURLToPath(new URL(".", import.meta.url)))).toContain(suite);
    for (const family of ["alpine", "debian"]) {
      const s = shipped.get(`${family}: scripts/${script}.sh`);
      expect(s, `${family}: scripts/${script}.sh`).toBeDefined();
      expect(s!.text).toContain(`# --- part: ${part} ---\n`);
    }
  });
});

describe.skipIf(!needTool("shellcheck"))("every composed script under shellcheck -s sh", () => {
  const shellcheck = (text: string) => spawnSync("shellcheck", ["-s", "sh", "-"], { input: text, encoding: "utf8" });

  it.each([...shipped].map(([key, s]) => [key, s.flavours.join(", "), s.text]))("%s (shipped by %s) is clean", (_key, _flavours, text) => {
    const r = shellcheck(text);
    expect(r.stdout).toBe(""); // the findings, when there are any
    expect(r.status).toBe(0);
  });

  it("flags a script with a finding (so the checks above have teeth)", () => {
    const r = shellcheck("#!/bin/sh\nrm -rf $1/*\n");
    expect(r.stdout).toMatch(/SC2086/);
    expect(r.status).not.toBe(0);
  });
});
