import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderBundle } from "../../src/bundle/render-bundle.js";
import { writeBundle } from "../../src/bundle/write-bundle.js";
import { defaultContributors } from "../../src/contributors/index.js";
import { buildBundle } from "../../src/contributors/pipeline.js";
import { config } from "../support/configs.js";
import { parseHcl } from "../support/hcl.js";
import { needTool } from "../support/tools.js";

type Json = Record<string, any>;
// Rendered for the Packer installed here (1.6.6: no required_plugins block).
const rendered = (yaml: string) => renderBundle(buildBundle(config(yaml), defaultContributors()), { packerVersion: "1.6.6" });
const sources = async (yaml: string) => (await parseHcl("s.hcl", String(rendered(yaml).files.get("sources.pkr.hcl")!.content))).source as Json;

describe("Alpine's boot_wait follows the accelerator (TCG boots the live ISO several times slower)", () => {
  it("the qemu source waits 150 s under TCG and 30 s otherwise; VirtualBox, which never emulates, 30 s", async () => {
    const both = await sources("providers: [libvirt, virtualbox]\n");
    expect(both.qemu.alpine[0].boot_wait).toBe('${var.accelerator == "tcg" ? "150s" : "30s"}');
    expect((await sources("providers: [virtualbox]\n"))["virtualbox-iso"].alpine[0].boot_wait).toBe("30s");
  });

  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  // Packer itself evaluates the source's expression, with the accelerator `homelab build` passes.
  it.skipIf(!needTool("packer")).each([
    ["tcg", "150s"],
    ["kvm", "30s"],
    ["hvf", "30s"],
  ])("Packer reads boot_wait under -var accelerator=%s as %s", async (accelerator, wait) => {
    const bundle = rendered("k8s: {distribution: kubeadm}\n");
    const dir = mkdtempSync(join(tmpdir(), "homelab-bootwait-"));
    dirs.push(dir);
    await writeBundle(bundle, join(dir, "b"));
    const text = String(bundle.files.get("sources.pkr.hcl")!.content);
    const expression = /^\s*boot_wait\s*=\s*(.+)$/m.exec(text)![1]!;
    const env = { ...process.env, CHECKPOINT_DISABLE: "1" };
    const validate = spawnSync("packer", ["validate", "-var", `accelerator=${accelerator}`, "."], { cwd: join(dir, "b"), env, encoding: "utf8" });
    expect(validate.status, `${validate.stdout}${validate.stderr}`).toBe(0);
    const out = execFileSync("packer", ["console", "-var", `accelerator=${accelerator}`, "."], { cwd: join(dir, "b"), env, input: `${expression}\n`, encoding: "utf8" });
    expect(out.trim()).toBe(wait);
  });
});
