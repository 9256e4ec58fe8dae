import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { serveFixtures, sha256Hex } from "../support/fixture-server.js";
import { BIN, runCli } from "../support/cli.js";
import { fakePacker } from "../support/fake-packer.js";

const tmp = () => mkdtempSync(join(tmpdir(), "homelab-build-"));

/** A project with the given homelab.yaml (and a .git, so discovery stops here). */
function project(yaml = "k8s: {distribution: kubeadm}\n"): string {
  const dir = tmp();
  writeFileSync(join(dir, "homelab.yaml"), yaml);
  return dir;
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;

describe("homelab build around Packer (a fake Packer replaying a recorded run)", () => {
  it("shows the final box path, its size in MiB and a readable log; a script's stderr is no error", async () => {
    const dir = project();
    const packer = fakePacker("success");
    const result = await runCli(["build", "--accel", "tcg"], { cwd: dir, env: { HOMELAB_PACKER: packer.binary } });
    expect(result.code, result.stderr).toBe(0);
    const [hash] = readdirSync(join(dir, ".homelab", "builds"));
    const boxPath = `.homelab/builds/${hash}/boxes/alpine-3.24-k8snode-kubeadm-libvirt.box`;
    expect(result.stdout).toMatch(/^homelab\/alpine-3\.24-k8snode-kubeadm 0\.1\.0: built in \d+ s$/m);
    expect(result.stdout).toContain(`  libvirt: ${boxPath} (3.5 MiB, sha256 `);
    expect(existsSync(join(dir, boxPath))).toBe(true);
    // Progress names the final path, never the staging directory that is gone afterwards.
    expect(result.stderr).toContain(`${dir}/${boxPath}`);
    expect(result.stderr).not.toContain(".partial");
    // `Failed to connect to bus` is the shutdown command's stderr: printed, not as an error.
    expect(result.stderr).toMatch(/Z ==> qemu\.e2e: Failed to connect to bus/);
    expect(result.stderr).not.toMatch(/ error .*Failed to connect to bus/);

    const log = /^ {2}log: (.+)$/m.exec(result.stdout)![1]!;
    expect(log).toMatch(new RegExp(`^\\.homelab/builds/${hash}/logs/[-0-9TZ]+\\.plain\\.log$`));
    const plain = readFileSync(join(dir, log), "utf8");
    expect(plain).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ==> qemu\.e2e: Retrieving ISO$/m);
    expect(plain).toContain("Found port for communicator (SSH, WinRM, etc)");
    expect(plain).not.toContain("PACKER_COMMA");
    // The machine-readable log stays as Packer wrote it, for programs.
    const record = JSON.parse(readFileSync(join(dir, ".homelab", "builds", hash!, "build.json"), "utf8"));
    expect(record.plainLog).toBe(log.replace(`.homelab/builds/${hash}/`, ""));
    expect(readFileSync(join(dir, ".homelab", "builds", hash!, record.log), "utf8")).toContain("(SSH%!(PACKER_COMMA) WinRM");
  });

  it("--json ends with a result event when the build fails (exit 1)", async () => {
    const dir = project();
    const packer = fakePacker("failure");
    const result = await runCli(["build", "--accel", "tcg", "--json"], { cwd: dir, env: { HOMELAB_PACKER: packer.binary } });
    expect(result.code).toBe(1);
    const last = lastJson(result.stdout);
    expect(last).toMatchObject({ kind: "result", ok: false, cancelled: false, exitCode: 1, error: "packer build failed (exit 1)" });
    expect(last.details).toEqual(expect.arrayContaining([expect.stringMatching(/^full log: .*\.plain\.log$/)]));
    // Every line before it is a JSON event too.
    for (const line of result.stdout.trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
  });

  it("--json ends with a result event when the build is cancelled (exit 130)", async () => {
    const dir = project();
    const packer = fakePacker("wait-for-interrupt");
    const child = spawn(process.execPath, [BIN, "build", "--accel", "tcg", "--json"], {
      cwd: dir,
      env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1", HOMELAB_PACKER: packer.binary },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => {
      const first = !stdout.includes("Retrieving ISO");
      stdout += c.toString();
      if (first && stdout.includes("Retrieving ISO")) child.kill("SIGINT");
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(130);
    expect(lastJson(stdout)).toMatchObject({ kind: "result", ok: false, cancelled: true, exitCode: 130 });
  });
});

describe("homelab build refuses bad input before Packer runs (exit 2)", () => {
  const noBuild = async (args: string[], yaml?: string, files: Record<string, string> = {}) => {
    const dir = project(yaml);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const packer = fakePacker("success");
    const result = await runCli(["build", "--accel", "tcg", ...args], { cwd: dir, env: { HOMELAB_PACKER: packer.binary } });
    expect(result.code, result.stderr).toBe(2);
    expect(packer.calls()).not.toContain("build");
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    return result.stderr;
  };

  it("--accel hvf on Linux", async () => {
    expect(await noBuild(["--accel", "hvf"])).toContain("--accel hvf: Hypervisor.framework exists only on macOS");
  });

  it("--box-version the registry refuses, naming the flag the user typed", async () => {
    expect(await noBuild(["--publish", "--box-version", "1.0"])).toContain('--box-version: expected a version X.Y.Z (three whole numbers, no leading zeros), got "1.0"');
  });

  it("a box.version the registry refuses, at its line in homelab.yaml", async () => {
    const stderr = await noBuild([], "org: acme\nbox:\n  version: 1234567890.0.0\n");
    expect(stderr).toContain('homelab.yaml:3:12: box.version: expected a version the box registry accepts');
    expect(stderr).toContain('got "1234567890.0.0"');
  });

  const baseConfig = (image: string, checksum: string) => `debian: {}\nbase:\n  image: ${image}\n  checksum: sha256:${checksum}\n`;

  it("a base image that does not exist", async () => {
    const stderr = await noBuild([], baseConfig("./missing.qcow2", "a".repeat(64)));
    expect(stderr).toMatch(/homelab\.yaml:3:10: base\.image: expected a readable qcow2 image, got \/.*\/missing\.qcow2: no such file/);
  });

  it("a base image whose checksum does not match", async () => {
    const stderr = await noBuild([], baseConfig("./base.qcow2", "b".repeat(64)), { "base.qcow2": "not the image you vouched for" });
    expect(stderr).toContain(`homelab.yaml:4:13: base.checksum: expected the sha256 of `);
    expect(stderr).toContain(`the file's is sha256:${sha256Hex("not the image you vouched for")}`);
  });

  it("a base image URL the server does not have (HEAD answered 404)", async () => {
    const server = await serveFixtures({ "/there.qcow2": "x" });
    try {
      const stderr = await noBuild([], baseConfig(`${server.url}/gone.qcow2`, "c".repeat(64)));
      expect(stderr).toContain(`homelab.yaml:3:10: base.image: expected an image the server has, got HTTP 404 for ${server.url}/gone.qcow2`);
      expect(server.requests).toEqual(["/gone.qcow2"]);
    } finally {
      await server.close();
    }
  });

  it("a base image that matches goes on to Packer", async () => {
    const dir = project(baseConfig("./base.qcow2", sha256Hex("the image")));
    writeFileSync(join(dir, "base.qcow2"), "the image");
    const packer = fakePacker("success", { boxName: "debian-12-base-libvirt.box" });
    const result = await runCli(["build", "--accel", "tcg"], { cwd: dir, env: { HOMELAB_PACKER: packer.binary } });
    expect(result.code, result.stderr).toBe(0);
    expect(packer.calls()).toContain("build");
  });
});
