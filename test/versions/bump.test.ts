import { readFileSync } from "node:fs";
import { DEFAULTS } from "../../src/config/defaults.js";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { JobError } from "../../src/errors.js";
import { bumpConfigText } from "../../src/versions/bump.js";
import { unifiedDiff } from "../../src/versions/diff.js";
import { Upstream } from "../../src/versions/upstream.js";
import { applyPinEdits } from "../../src/versions/yaml-edit.js";
import { needTool } from "../support/tools.js";
import { UpstreamServer } from "../support/upstream-server.js";

const fixtureSha = (v: string) => createHash("sha256").update(`alpine-virt-${v}-x86_64.iso`).digest("hex");
const SHA_3241 = "e73a6241bd5f3c5c2d4d38c02cc52c378c0415a7c888bd292066bf36e0f41a39";

/** A config the way people write them: comments everywhere, odd spacing, quotes, blank lines. */
const COMMENTED = `# yaml-language-server: $schema=./homelab.schema.json
# Our lab's node image.   Owner: infra team

org: acme-lab   # namespace on the box server

# --- base OS ---------------------------------------------------
alpine:
    # keep on the newest point release (security fixes)
    version: "3.24.1"     # bumped by hand in July
    isoChecksum: sha256:${SHA_3241}
    arch: x86_64 # or aarch64
    # mirror inside the lab
    mirror: http://10.0.0.5/alpine

k8s:
    distribution: kubeadm   # upstream kubeadm, not k3s
    # pin: keep in step with the control plane
    version: 'v1.34.2'
    bake: airgap

providers: [libvirt]   # flow list stays flow

vm:
    diskSizeMiB: 40960

# trailing comment, no newline at the end`;

let server: UpstreamServer;
let cacheDir: string;
beforeEach(async () => {
  server = await UpstreamServer.start();
  cacheDir = await mkdtemp(join(tmpdir(), "homelab-bump-"));
});
afterEach(async () => {
  await server.close();
  await rm(cacheDir, { recursive: true, force: true });
});
// A generous deadline: these tests are about answers, not timeouts (a 500 ms one failed on a loaded machine).
const upstream = () => new Upstream(undefined, { ...server.urls, cacheDir, timeoutMs: 10_000, env: {} });

describe("bump keeps the file as it was, apart from the pins", () => {
  it("--patch: only the three values change, byte for byte, quotes kept", async () => {
    const result = await bumpConfigText(COMMENTED, "homelab.yaml", upstream(), "patch");
    const expected = COMMENTED.replace('"3.24.1"', '"3.24.2"').replace(`sha256:${SHA_3241}`, `sha256:${fixtureSha("3.24.2")}`).replace("'v1.34.2'", "'v1.34.4'");
    expect(result.after).toBe(expected);
    expect(result.changes.map((c) => `${c.pin} ${c.from} -> ${c.to}`)).toEqual(["alpine.version 3.24.1 -> 3.24.2", "k8s.version v1.34.2 -> v1.34.4"]);
    const loaded = parseConfig(result.after);
    expect(loaded).toMatchObject({ family: "alpine", alpine: { version: "3.24.2", isoChecksum: `sha256:${fixtureSha("3.24.2")}`, mirror: "http://10.0.0.5/alpine" } });
  });

  it("--minor: newest stable; an absent isoChecksum is added under version with the file's indentation", async () => {
    const text = "alpine:\n  version: 3.23.5 # old branch\n  arch: x86_64\nk8s:\n  distribution: k3s\n  version: v1.33.8+k3s1\n";
    // 3.23.5 is not in homelab's checksum table: the config must name its checksum to load at all.
    await expect(bumpConfigText(text, "h.yaml", upstream(), "minor")).rejects.toThrow(/1 problem in the config/);
    const withSum = text.replace("  arch:", `  isoChecksum: sha256:${"cd".repeat(32)}\n  arch:`);
    const ok = await bumpConfigText(withSum, "h.yaml", upstream(), "minor");
    expect(ok.after).toBe(
      withSum.replace("3.23.5", "3.24.2").replace(`sha256:${"cd".repeat(32)}`, `sha256:${fixtureSha("3.24.2")}`).replace("v1.33.8+k3s1", "v1.34.4+k3s1"),
    );
    const noSum = "alpine:\n   version: 3.24.1 # keep\n   arch: x86_64\n";
    const added = await bumpConfigText(noSum, "h.yaml", upstream(), "patch");
    expect(added.after).toBe(`alpine:\n   version: 3.24.2 # keep\n   isoChecksum: sha256:${fixtureSha("3.24.2")}\n   arch: x86_64\n`);
  });

  it("a k8s.version left to the default is written only when the bump moves it", async () => {
    const text = "# defaults\nalpine:\n  version: 3.24.2\n  isoChecksum: sha256:" + fixtureSha("3.24.2") + "\nk8s:\n  distribution: kubeadm # default version\n  bake: binary\n";
    const [minor, patch] = DEFAULTS.k8s.kubeadm.split(".").slice(1).map(Number) as [number, number];
    // Upstream's newest is homelab's default: nothing to write.
    server.faults.set(`/k8s/release/stable-1.${minor}.txt`, { body: `${DEFAULTS.k8s.kubeadm}\n` });
    server.faults.set("/k8s/release/stable.txt", { body: `${DEFAULTS.k8s.kubeadm}\n` });
    const same = await bumpConfigText(text, "h.yaml", upstream(), "minor");
    expect(same.changes).toEqual([]);
    expect(same.after).toBe(text);
    server.faults.set(`/k8s/release/stable-1.${minor}.txt`, { body: `v1.${minor}.${patch + 3}\n` });
    const moved = await bumpConfigText(text, "h.yaml", upstream(), "patch");
    expect(moved.after).toBe(text.replace("# default version\n", `# default version\n  version: v1.${minor}.${patch + 3}\n`));
  });

  it("a file without an alpine section gets one appended", async () => {
    // Upstream one point release past homelab's default Alpine.
    const [maj, min, pat] = DEFAULTS.alpine.version.split(".").map(Number) as [number, number, number];
    const next = `${maj}.${min}.${pat + 1}`;
    const releases = readFileSync(new URL(`../fixtures/versions/alpine/v${maj}.${min}/releases/x86_64/latest-releases.yaml`, import.meta.url), "utf8");
    server.faults.set(`/alpine/v${maj}.${min}/releases/x86_64/latest-releases.yaml`, { body: releases.replaceAll(DEFAULTS.alpine.version, next) });
    const text = "org: lab # only this\n";
    const result = await bumpConfigText(text, "h.yaml", upstream(), "patch");
    expect(result.after).toBe(`${text}alpine:\n  version: ${next}\n  isoChecksum: sha256:${fixtureSha(DEFAULTS.alpine.version)}\n`);
  });

  it("never downgrades, and refuses a minor homelab has no pause image for", async () => {
    server.faults.set("/k8s/release/stable.txt", { body: "v1.38.0\n" });
    const text = `alpine:\n  version: 3.24.2\n  isoChecksum: sha256:${fixtureSha("3.24.2")}\nk8s:\n  distribution: kubeadm\n  version: v1.35.1\n`;
    const result = await bumpConfigText(text, "h.yaml", upstream(), "minor");
    expect(result.after).toBe(text);
    expect(result.skipped).toEqual([expect.stringMatching(/not bumped to v1\.38\.0: this homelab has no pause image for Kubernetes 1\.38/)]);
  });

  it("an upstream failure stops the bump with could-not-check and no result", async () => {
    server.faults.set("/alpine/v3.24/releases/x86_64/latest-releases.yaml", { body: "not: [valid" });
    const err = await bumpConfigText(COMMENTED, "homelab.yaml", upstream(), "patch").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobError);
    expect((err as JobError).message).toMatch(/^alpine\.version: could not check: .*latest-releases\.yaml: not valid YAML.*\(nothing written\)$/);
  });
});

describe("applyPinEdits", () => {
  it("falls back to the Document API for flow mappings, keeping comments and values", () => {
    const out = applyPinEdits("# top\nalpine: {version: 3.24.1, arch: aarch64} # flow\n", [
      { section: "alpine", key: "version", value: "3.24.2" },
      { section: "alpine", key: "isoChecksum", value: `sha256:${SHA_3241}`, after: "version" },
    ]);
    expect(out).toContain("# top");
    expect(parseConfig(out)).toMatchObject({ alpine: { version: "3.24.2", arch: "aarch64", isoChecksum: `sha256:${SHA_3241}` } });
  });

  it("refuses values that are not plain version strings", () => {
    expect(() => applyPinEdits("alpine:\n  version: 3.24.1\n", [{ section: "alpine", key: "version", value: "3.24.2\nevil: true" }])).toThrow(/refusing/);
  });
});

describe("unifiedDiff", () => {
  it("prints a diff that patch(1) applies to get the new text back", async () => {
    const result = await bumpConfigText(COMMENTED, "homelab.yaml", upstream(), "patch");
    const diff = unifiedDiff(result.before, result.after, "homelab.yaml", "homelab.yaml");
    expect(diff).toMatch(/^--- homelab\.yaml\n\+\+\+ homelab\.yaml\n@@ -6,\d+ \+6,\d+ @@\n/);
    expect(diff).toContain(
      '-    version: "3.24.1"     # bumped by hand in July\n-    isoChecksum: sha256:e73a',
    );
    expect(diff).toContain('+    version: "3.24.2"     # bumped by hand in July\n+    isoChecksum: sha256:415c');
    expect(diff).toContain("-    version: 'v1.34.2'\n+    version: 'v1.34.4'\n     bake: airgap\n");
    if (!needTool("patch")) return;
    const dir = await mkdtemp(join(tmpdir(), "homelab-diff-"));
    try {
      await writeFile(join(dir, "homelab.yaml"), result.before);
      execFileSync("patch", ["-s", "homelab.yaml"], { cwd: dir, input: diff });
      expect(execFileSync("cat", ["homelab.yaml"], { cwd: dir, encoding: "utf8" })).toBe(result.after);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("is empty for equal texts and handles insertions at the end", () => {
    expect(unifiedDiff("a\n", "a\n", "x", "y")).toBe("");
    expect(unifiedDiff("a\nb\n", "a\nb\nc\n", "x", "y")).toBe("--- x\n+++ y\n@@ -1,2 +1,3 @@\n a\n b\n+c\n");
  });
});
