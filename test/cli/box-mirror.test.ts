import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listRegistry } from "../../src/box/publish.js";
import { makeBox, tempDir } from "../box/support.js";
import { BIN, runCli } from "../support/cli.js";
import { MirrorSource, objectId, type SourceFileSpec } from "../support/mirror-source.js";

/**
 * The CLI as a user runs it (dist/): killed with SIGKILL in the middle of a mirror and run
 * again, it finishes with every file verified; its output on a pipe is plain lines, its exit
 * code says whether anything failed.
 */
describe("homelab box mirror (CLI)", () => {
  const tmp = tempDir("homelab-mirror-cli-");
  let source: MirrorSource;
  const specs: SourceFileSpec[] = [];
  const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

  beforeAll(async () => {
    source = await MirrorSource.start();
    const body = (name: string, provider: string, kib: number) => readFileSync(makeBox(tmp.path, name, { provider, imageBytes: kib << 10 }));
    // One small file first (published before the kill), then three slow ones (cut by the kill).
    specs.push({ org: "kill", box: "node", version: "1.0.0", provider: "libvirt", arch: "amd64", checksumType: "sha256", body: body("k0", "libvirt", 64) });
    specs.push({ org: "kill", box: "node", version: "1.1.0", provider: "libvirt", arch: "amd64", checksumType: "sha512", body: body("k1", "libvirt", 3072) });
    specs.push({ org: "kill", box: "node", version: "1.1.0", provider: "virtualbox", arch: "amd64", checksumType: "md5", body: body("k2", "virtualbox", 3072) });
    specs.push({ org: "kill", box: "node", version: "1.1.0", provider: "libvirt", arch: "arm64", checksumType: "sha1", body: body("k3", "libvirt", 3072) });
    for (const s of specs) source.add(s);
  });
  afterAll(async () => {
    await source.close();
    tmp.cleanup();
  });

  it("killed with SIGKILL mid-mirror, a rerun resumes the partial downloads and finishes with every checksum verified", async () => {
    const target = join(tmp.path, "target");
    const work = join(tmp.path, "work");
    for (const s of specs.slice(1)) source.faults.set(objectId(s), { bytesPerSecond: 1 << 20, cutTimes: 0 });
    const args = ["box", "mirror", "kill/node", "--api", source.api, "--to", target, "--work-dir", work, "--jobs", "2"];
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (_code, sig) => resolve(sig === "SIGKILL" ? -9 : _code)));
    // Kill once the small file is published and a slow one has a partial of at least 512 KiB.
    const partial = () => (existsSync(join(work, "partial")) ? readdirSync(join(work, "partial")).filter((f) => f.endsWith(".part")) : []);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const big = partial().some((f) => statSync(join(work, "partial", f)).size >= 512 << 10);
      if (big && out.includes("copied   kill/node@1.0.0")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    expect(await exited).toBe(-9);
    expect(out).toMatch(/^copied {3}kill\/node@1\.0\.0 libvirt\/amd64/m);
    const left = partial();
    expect(left.length).toBeGreaterThan(0);
    const [before] = await listRegistry(target, "kill/node");
    expect(before!.versions.map((v) => v.version)).toEqual(["1.0.0"]);

    for (const s of specs) source.faults.delete(objectId(s));
    const rerun = await runCli(args);
    expect(rerun.code, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/^skipped  kill\/node@1\.0\.0 libvirt\/amd64 .*same checksum/m);
    expect(rerun.stdout).toMatch(/resumed at \d/);
    expect(rerun.stdout).toMatch(/^copied 3 \(.*\), skipped 1 .*failed 0 in [\d.]+ s; .* received at .*\/s$/m);
    // The rerun asked for the rest of what the killed run had, not for the whole file again.
    expect(source.requests.some((r) => r.host === "storage" && r.range !== undefined && /^bytes=\d+-$/.test(r.range))).toBe(true);

    const [after] = await listRegistry(target, "kill/node");
    for (const s of specs) {
      const entry = after!.versions.find((v) => v.version === s.version)!.providers.find((p) => p.name === s.provider && p.architecture === s.arch)!;
      expect(entry.checksum).toBe(sha256(s.body));
      expect(sha256(readFileSync(join(target, "kill/node", entry.url)))).toBe(sha256(s.body));
    }
    expect(partial()).toEqual([]);
  });

  it("Ctrl-C (SIGINT) stops cleanly: exit 130, the partial download kept for the next run, its lock released", async () => {
    const slow = { org: "int", box: "b", version: "1.0.0", provider: "libvirt", arch: "amd64", checksumType: "sha256" as const, body: readFileSync(makeBox(tmp.path, "int", { imageBytes: 2 << 20 })) };
    source.add(slow);
    source.faults.set(objectId(slow), { bytesPerSecond: 512 << 10, cutTimes: 0 });
    const work = join(tmp.path, "int-work");
    const child = spawn(process.execPath, [BIN, "box", "mirror", "int/b", "--api", source.api, "--to", join(tmp.path, "int-target"), "--work-dir", work], {
      env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const part = join(work, "partial", `sha256-${sha256(slow.body)}.part`);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(existsSync(part) && statSync(part).size >= 256 << 10)) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(err).toMatch(/cancelled; partial downloads are kept/);
    expect(statSync(part).size).toBeGreaterThanOrEqual(256 << 10);
    expect(readdirSync(join(work, "partial")).filter((f) => f.endsWith(".lock"))).toEqual([]);
    source.faults.delete(objectId(slow));
  });

  it("a checksum that lies: the other files are copied, the summary names it, exit 1; --json prints events and the summary", async () => {
    const lying = { org: "lie", box: "b", version: "1.0.0", provider: "libvirt", arch: "amd64", checksumType: "sha256" as const, lie: true, body: specs[0]!.body };
    const honest = { ...lying, provider: "virtualbox", lie: false, body: readFileSync(makeBox(tmp.path, "honest", { provider: "virtualbox" })) };
    source.add(lying);
    source.add(honest);
    const target = join(tmp.path, "lie-target");
    const r = await runCli(["box", "mirror", source.catalogUrl("lie", "b"), "--to", target, "--work-dir", join(tmp.path, "lie-work")]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^copied {3}lie\/b@1\.0\.0 virtualbox\/amd64/m);
    expect(r.stdout).toMatch(/^failed:\n {2}lie\/b@1\.0\.0 libvirt\/amd64: .*hashes to sha256 [0-9a-f]{64}, but the source's catalog says/m);
    expect(r.stderr).toMatch(/^homelab: 1 file\(s\) failed/m);
    expect(r.stdout).not.toContain("\u001b["); // plain lines on a pipe

    const j = await runCli(["box", "mirror", source.catalogUrl("lie", "b"), "--to", target, "--work-dir", join(tmp.path, "lie-work"), "--json"]);
    expect(j.code).toBe(1);
    const lines = j.stdout.trim().split("\n").map((l) => JSON.parse(l) as { kind: string; state?: string; failed?: { count: number }; skipped?: { count: number } });
    expect(lines[0]!.kind).toBe("plan");
    expect(lines.filter((l) => l.kind === "done").map((l) => l.state).sort()).toEqual(["failed", "skipped"]);
    expect(lines.at(-1)).toMatchObject({ kind: "summary", failed: { count: 1 }, skipped: { count: 1 } });
  });

  it("--dry-run prints what would be copied and creates nothing; bad input exits 2", async () => {
    const target = join(tmp.path, "dry-target");
    const work = join(tmp.path, "dry-work");
    const r = await runCli(["box", "mirror", "kill", "--api", source.api, "--to", target, "--work-dir", work, "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.match(/^would copy {2}kill\/node@/gm)).toHaveLength(4);
    expect(r.stdout).toMatch(/^dry run: 4 to copy, 0 already present .* nothing was written$/m);
    expect(existsSync(target) || existsSync(work)).toBe(false);

    expect((await runCli(["box", "mirror", "a/b/c", "--to", target])).code).toBe(2);
    expect((await runCli(["box", "mirror", "kill/node", "--to", target, "--registry", "http://127.0.0.1:9"])).code).toBe(2);
    const noToken = await runCli(["box", "mirror", "kill/node", "--api", source.api, "--registry", "http://127.0.0.1:9"], { env: { HOMELAB_REGISTRY_TOKEN: "" } });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/token/);
    // A source that cannot be read fails alone: the other one is still looked at.
    const gone = await runCli(["box", "mirror", "nobody", "kill/node", "--api", source.api, "--to", target, "--work-dir", work, "--dry-run"]);
    expect(gone.code).toBe(1);
    expect(gone.stdout).toMatch(/^failed {3}nobody: cannot read it: GET http:\/\/127\.0\.0\.1:\d+\/api\/v2\/user\/nobody: 404/m);
    expect(gone.stdout.match(/^would copy {2}kill\/node@/gm)).toHaveLength(4);
    expect(gone.stderr).toMatch(/^homelab: 1 source\(s\) could not be read, 0 file\(s\) cannot be copied/m);
    expect(gone.stderr).not.toMatch(/\n\s+at /);
  });
});
