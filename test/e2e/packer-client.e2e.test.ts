/**
 * END-TO-END, SLOW (about 2-4 minutes on 2 cores; the first run also builds the Debian base image,
 * about 2 minutes, then cached): a real Packer build of a real VM under TCG through PackerClient,
 * and a real cancellation of one. Needs root (debootstrap), packer and qemu-system-x86_64.
 */
import { execFileSync } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancelledError } from "../../src/errors.js";
import { chooseAcceleration, type QemuAcceleration } from "../../src/packer/accelerator.js";
import { CancelRequest, cancelOnSignals } from "../../src/packer/cancel.js";
import { PackerClient } from "../../src/packer/client.js";
import type { PackerEvent } from "../../src/packer/machine-readable.js";
import { withStagedDir } from "../../src/fs/staged-dir.js";
import { debianBaseImage, qemuProcesses } from "../support/e2e.js";
import { needTool } from "../support/tools.js";

const TEMPLATE_SOURCE = fileURLToPath(new URL("../fixtures/packer/e2e-template", import.meta.url));

const ready = needTool("packer") && needTool("qemu-system-x86_64") && needTool("debootstrap") && needTool("qemu-img");

describe.skipIf(!ready)("PackerClient end to end (real VM, TCG)", () => {
  let scratch: string;
  let base: { image: string; sha256: string };
  let client: PackerClient;
  let accel: QemuAcceleration;
  /** A copy of the template: Packer 1.6 writes packer_cache/ into the directory it builds. */
  let TEMPLATE: string;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "homelab-e2e-packer-"));
    TEMPLATE = join(scratch, "bundle");
    await cp(TEMPLATE_SOURCE, TEMPLATE, { recursive: true });
    const started = Date.now();
    base = debianBaseImage();
    console.log(`[e2e] base image ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${base.image}`);
    client = await PackerClient.locate();
    accel = await chooseAcceleration("auto");
    if (accel.notice) console.log(`[e2e] ${accel.notice}`);
  }, 15 * 60_000);

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  function vars(outputDir: string, vmName: string, pause: number): Record<string, string> {
    const cpu = accel.qemuargs.find((row) => row[0] === "-cpu")?.[1] ?? "max";
    return {
      base_image: base.image,
      base_checksum: `sha256:${base.sha256}`,
      output_dir: outputDir,
      vm_name: vmName,
      accelerator: accel.accelerator,
      cpu_model: cpu,
      pause_seconds: String(pause),
    };
  }

  it("builds a .box: events in order, the artifact reported, the full stream in the log", async () => {
    const vmName = `homelab-e2e-ok-${process.pid}`;
    const finalDir = join(scratch, "out-ok");
    const logFile = join(scratch, "ok.log");
    const events: PackerEvent[] = [];
    const started = Date.now();
    const result = await withStagedDir(finalDir, (staging) =>
      client.build({ bundleDir: TEMPLATE, logFile, vars: vars(staging, vmName, 0), onEvent: (e) => events.push(e) }),
    );
    console.log(`[e2e] packer build took ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const says = events.flatMap((e) => (e.kind === "ui" && e.build === "qemu.e2e" ? [e.body] : []));
    const at = (text: string): number => says.findIndex((s) => s.startsWith(text));
    const order = [
      at("Starting VM"),
      at("Waiting for SSH"),
      at("Connected to SSH"),
      at("homelab-e2e: hello from the guest"),
      at("homelab-e2e: kernel"),
      at("homelab-e2e: done"),
      at("Gracefully halting"),
      at("Creating Vagrant box for 'libvirt' provider"),
    ];
    expect(order.every((i) => i >= 0), JSON.stringify(says)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(says.some((s) => s.includes(", user root"))).toBe(true); // the comma came through escaped

    const last = events.findLastIndex((e) => e.kind === "ui");
    const artifactAt = events.findIndex((e) => e.kind === "artifact");
    expect(artifactAt).toBeGreaterThan(events.findIndex((e) => e.kind === "ui" && e.body.startsWith("Creating Vagrant box")));
    expect(last).toBeGreaterThan(artifactAt); // the `--> qemu.e2e: ...` summary follows it
    expect(result.artifacts).toHaveLength(1);
    const [artifact] = result.artifacts;
    expect(artifact).toMatchObject({ target: "qemu.e2e", builderId: "mitchellh.post-processor.vagrant", id: "libvirt" });
    expect(artifact?.files).toHaveLength(1);
    expect(artifact?.files[0]).toMatch(/\/e2e_libvirt\.box$/);

    // The box was built in the staging dir and moved into place; nothing else is left beside it.
    const box = join(finalDir, "e2e_libvirt.box");
    expect((await stat(box)).size).toBeGreaterThan(50 * 1024 * 1024);
    expect((await readdir(scratch)).filter((n) => n.includes(".partial-"))).toEqual([]);
    const entries = execFileSync("tar", ["-tzf", box], { encoding: "utf8" }).split("\n").filter(Boolean);
    expect(entries.map((n) => n.replace(/^\.\//, ""))).toEqual(expect.arrayContaining(["metadata.json", "box.img", "Vagrantfile"]));
    const metadataEntry = entries.find((n) => n.replace(/^\.\//, "") === "metadata.json") as string;
    const metadata = JSON.parse(execFileSync("tar", ["-xzOf", box, metadataEntry], { encoding: "utf8" }));
    expect(metadata).toMatchObject({ provider: "libvirt", format: "qcow2" });

    // Every line Packer wrote is in the log, in order.
    const log = (await readFile(logFile, "utf8")).split("\n").filter((l) => /^\d+,/.test(l));
    const uiLines = log.filter((l) => /^\d+,[^,]*,ui,/.test(l));
    expect(uiLines.length).toBe(events.filter((e) => e.kind === "ui").length);
    expect(log.at(-1)).toMatch(/,ui,say,--> qemu\.e2e: 'libvirt' provider box: /);
    expect(qemuProcesses(vmName)).toEqual([]);
  }, 15 * 60_000);

  it("SIGINT while the VM boots: rejects as cancelled, no qemu left, no box", async () => {
    const vmName = `homelab-e2e-cancel-${process.pid}`;
    const finalDir = join(scratch, "out-cancel");
    const logFile = join(scratch, "cancel.log");
    const cancel = new CancelRequest();
    const dispose = cancelOnSignals(cancel);
    let signalledAt = 0;
    let sawQemu = false;
    try {
      const err = await withStagedDir(finalDir, (staging) =>
        client.build({
          bundleDir: TEMPLATE,
          logFile,
          vars: vars(staging, vmName, 600),
          cancel,
          onEvent: (e) => {
            if (e.kind === "ui" && e.body.startsWith("Waiting for SSH") && signalledAt === 0) {
              signalledAt = -1;
              setTimeout(() => {
                sawQemu = qemuProcesses(vmName).length > 0;
                signalledAt = Date.now();
                process.kill(process.pid, "SIGINT"); // a real signal, through the CLI's handler path
              }, 3_000);
            }
          },
        }),
      ).catch((e: unknown) => e);
      const cancelToExit = Date.now() - signalledAt;
      console.log(`[e2e] cancel to exit: ${(cancelToExit / 1000).toFixed(1)} s`);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as CancelledError).exitCode).toBe(130);
      expect(signalledAt).toBeGreaterThan(0);
      expect(sawQemu).toBe(true);
      expect(qemuProcesses(vmName)).toEqual([]);
      await expect(stat(finalDir)).rejects.toThrow(/ENOENT/);
      expect((await readdir(scratch)).filter((n) => n.includes(".partial-"))).toEqual([]);
      expect(await readFile(logFile, "utf8")).toContain("Cancelling build after receiving interrupt");
    } finally {
      dispose();
    }
  }, 10 * 60_000);
});
