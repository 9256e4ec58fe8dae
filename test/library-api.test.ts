import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { buildBoxes, parseConfig, type PackerEvent } from "../src/index.js";
import { fakePacker } from "./support/fake-packer.js";

/**
 * The library does what `homelab build` does, without the CLI: `buildBoxes` from the package's
 * entry point, around a fake Packer that replays a recorded real build (test/support/fake-packer.ts).
 */
const saved = process.env.HOMELAB_PACKER;
afterEach(() => {
  if (saved === undefined) delete process.env.HOMELAB_PACKER;
  else process.env.HOMELAB_PACKER = saved;
});

it("buildBoxes from the library entry point builds, then hits its cache", async () => {
  const packer = fakePacker("success");
  process.env.HOMELAB_PACKER = packer.binary;
  const workDir = mkdtempSync(join(tmpdir(), "homelab-library-"));
  const config = parseConfig("k8s: {distribution: kubeadm}\n", join(workDir, "homelab.yaml"));
  const events: PackerEvent[] = [];
  const first = await buildBoxes({ config, origin: "homelab.yaml", workDir, accelerator: "tcg", onEvent: (e) => events.push(e) });
  expect(first.cached).toBe(false);
  expect(events.some((e) => e.kind === "artifact")).toBe(true);
  expect(readdirSync(join(first.dir, "boxes"))).toContain("alpine-3.24-k8snode-kubeadm-libvirt.box");
  const again = await buildBoxes({ config, origin: "homelab.yaml", workDir, accelerator: "tcg" });
  expect(again).toMatchObject({ cached: true, dir: first.dir });
  expect(packer.calls().filter((c) => c === "build")).toHaveLength(1);
});
