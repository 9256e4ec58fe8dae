/**
 * END-TO-END, SLOW (about 3-5 minutes on 2 cores under TCG, plus about 2 minutes the first time
 * the Debian base image is made): `homelab build` as a user runs it, on a Debian 12 config with a
 * bring-your-own base image, kubeadm with bake: none. Kernel prep, swap, containerd from the
 * Debian mirror, node verification and sysprep all run for real inside the VM. Then a cache hit,
 * then a cancelled rebuild that must leave the finished boxes and no qemu behind.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { hashFile, type BuildRecord } from "../../src/build/record.js";
import { BIN, runCli } from "../support/cli.js";
import { debianBaseImage, qemuProcesses } from "../support/e2e.js";
import { needTool } from "../support/tools.js";

const ready = needTool("packer") && needTool("qemu-system-x86_64") && needTool("debootstrap") && needTool("qemu-img");

describe.skipIf(!ready)("homelab build end to end (real VM, TCG)", () => {
  let dir: string;
  let buildDir: string;
  let record: BuildRecord;

  beforeAll(() => {
    const base = debianBaseImage();
    dir = mkdtempSync(join(tmpdir(), "homelab-e2e-build-"));
    writeFileSync(
      join(dir, "homelab.yaml"),
      [
        "org: ci",
        "debian: {}",
        "base:",
        `  image: ${base.image}`,
        `  checksum: sha256:${base.sha256}`,
        "k8s: {distribution: kubeadm, bake: none}",
        "providers: [libvirt]",
        "",
      ].join("\n"),
    );
  }, 15 * 60_000);

  it("builds a real libvirt box: record, box contents, checksum, verification in the log", async () => {
    const result = await runCli(["build", "--compression-level", "1", "--no-version-check"], { cwd: dir });
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stdout).toMatch(/^ci\/debian-12-k8snode-kubeadm 0\.1\.0: built in \d+ s$/m);

    const builds = readdirSync(join(dir, ".homelab", "builds"));
    expect(builds).toHaveLength(1);
    buildDir = join(dir, ".homelab", "builds", builds[0]!);
    record = JSON.parse(readFileSync(join(buildDir, "build.json"), "utf8"));
    expect(record).toMatchObject({ hash: builds[0], boxName: "ci/debian-12-k8snode-kubeadm", boxVersion: "0.1.0", accelerator: "tcg" });
    expect(record.boxes).toHaveLength(1);
    const box = record.boxes[0]!;
    expect(box.provider).toBe("libvirt");
    const boxPath = join(buildDir, box.file);
    expect(await hashFile(boxPath)).toEqual({ sha256: box.sha256, size: box.size });

    // Members are read by the names the archive itself lists (with or without a ./ prefix).
    const entries = execFileSync("tar", ["-tzf", boxPath], { encoding: "utf8" }).split("\n").filter(Boolean);
    const member = (name: string) => entries.find((e) => e.replace(/^\.\//, "") === name)!;
    expect(entries.map((e) => e.replace(/^\.\//, "")).sort()).toEqual(["Vagrantfile", "box.img", "metadata.json"]);
    const metadata = JSON.parse(execFileSync("tar", ["-xzOf", boxPath, member("metadata.json")], { encoding: "utf8" }));
    expect(metadata).toMatchObject({ provider: "libvirt", format: "qcow2" });
    const img = join(dir, "box.img");
    execFileSync("sh", ["-c", 'tar -xzOf "$1" "$2" > "$3"', "sh", boxPath, member("box.img"), img]);
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", img], { encoding: "utf8" }));
    expect(info.format).toBe("qcow2");

    // The in-VM verification ran and passed, check by check.
    const log = readFileSync(join(buildDir, record.log), "utf8");
    const checks = [...log.matchAll(/ui,message,\s*homelab\.qemu\.debian: (ok|FAIL) +(.+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(checks).toEqual(
      expect.arrayContaining([
        "ok module br_netfilter loaded",
        "ok sysctl net.ipv4.ip_forward",
        "ok no active swap",
        "ok root mount shared",
        "ok containerd service running",
        "ok containerd cgroup driver systemd",
        "ok containerd sandbox image",
      ]),
    );
    expect(checks.filter((c) => c.startsWith("FAIL"))).toEqual([]);
    // Nothing left behind but the build's own files.
    expect(readdirSync(buildDir).sort()).toEqual(["boxes", "build.json", "bundle", "logs"]);
    expect(qemuProcesses(buildDir)).toEqual([]);
  }, 30 * 60_000);

  it("building the same inputs again is a cache hit: Packer does not run", async () => {
    const logsBefore = readdirSync(join(buildDir, "logs"));
    const logBefore = statSync(join(buildDir, record.log)).mtimeMs;
    const result = await runCli(["build", "--no-version-check"], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/: cache hit \(built .*; --force rebuilds\)$/m);
    expect(readdirSync(join(buildDir, "logs"))).toEqual(logsBefore);
    expect(statSync(join(buildDir, record.log)).mtimeMs).toBe(logBefore);
    expect(JSON.parse(readFileSync(join(buildDir, "build.json"), "utf8"))).toEqual(record);
  }, 60_000);

  it("a cancelled rebuild exits 130, stops qemu, and keeps the finished box untouched", async () => {
    const child = spawn(process.execPath, [BIN, "build", "--force", "--no-version-check"], {
      cwd: dir,
      env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let sawVm = false;
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the VM never started:\n${stderr.slice(-2000)}`)), 10 * 60_000);
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (!sawVm && /Waiting for SSH/.test(stderr) && qemuProcesses(buildDir).length > 0) {
          sawVm = true;
          clearTimeout(timer);
          setTimeout(() => {
            child.kill("SIGINT");
            resolve();
          }, 3000);
        }
      });
    });
    expect(await exited).toBe(130);
    expect(qemuProcesses(buildDir)).toEqual([]);
    expect(readdirSync(buildDir).filter((n) => n.startsWith(".boxes.partial-") || n === "vm")).toEqual([]);
    const box = record.boxes[0]!;
    expect(await hashFile(join(buildDir, box.file))).toEqual({ sha256: box.sha256, size: box.size });
    expect(JSON.parse(readFileSync(join(buildDir, "build.json"), "utf8"))).toEqual(record);
    // The cancelled attempt kept its own log, and the successful build's log is intact.
    expect(readdirSync(join(buildDir, "logs"))).toHaveLength(2);
    expect(readFileSync(join(buildDir, record.log), "utf8")).toMatch(/Build 'homelab\.qemu\.debian' finished/);
  }, 15 * 60_000);
});
