import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { UpstreamServer } from "../support/upstream-server.js";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "homelab.js");
const SHA_3241 = "e73a6241bd5f3c5c2d4d38c02cc52c378c0415a7c888bd292066bf36e0f41a39";

const CONFIG = `# lab config
alpine:
  version: 3.24.1 # pinned
  arch: x86_64

k8s:
  distribution: kubeadm
  version: v1.34.2 # control plane is on 1.34
`;

let server: UpstreamServer;
let dir: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist", "cli", "main.js"))) throw new Error("dist/ is missing: run `npm run build` before the CLI tests");
});
beforeEach(async () => {
  server = await UpstreamServer.start();
  dir = await mkdtemp(join(tmpdir(), "homelab-cli-versions-"));
  await writeFile(join(dir, "homelab.yaml"), CONFIG);
});
afterEach(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function homelab(args: string[], env: Record<string, string> = server.env) {
  return execa("node", [BIN, ...args], {
    cwd: dir,
    reject: false,
    // A clean environment: base URLs point at the local server, the cache lives in the test dir.
    env: { PATH: process.env.PATH ?? "", HOME: dir, HOMELAB_CACHE_DIR: join(dir, "cache"), ...env },
    extendEnv: false,
  });
}

describe("homelab versions check", () => {
  it("prints the table and exits 0; --strict exits 1 when a pin is behind", async () => {
    const r = await homelab(["versions", "check"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split("\n").slice(0, 4)).toEqual([
      expect.stringMatching(/^pin\s+pinned\s+newest patch\s+newest stable\s+verdict$/),
      expect.stringMatching(/^alpine\.version\s+3\.24\.1\s+3\.24\.2\s+3\.24\.2\s+patch behind$/),
      // The flannel a kubeadm box carries (homelab's own pin).
      expect.stringMatching(/^k8s\.cni\s+v0\.28\.9\s+v0\.28\.9\s+v0\.28\.9\s+current$/),
      expect.stringMatching(/^k8s\.version\s+v1\.34\.2\s+v1\.34\.4\s+v1\.35\.1\s+minor behind$/),
    ]);
    expect((await homelab(["versions", "check", "--strict"])).exitCode).toBe(1);
  });

  it("--json gives the machine-readable report", async () => {
    const r = await homelab(["versions", "check", "--json", "--strict"]);
    expect(r.exitCode).toBe(1);
    const report = JSON.parse(r.stdout) as { pins: { pin: string; verdict: string }[]; needsAttention: boolean; config: string };
    expect(report.pins.map((p) => [p.pin, p.verdict])).toEqual([["alpine.version", "patch behind"], ["k8s.cni", "current"], ["k8s.version", "minor behind"]]);
    expect(report.needsAttention).toBe(true);
    expect(report.config).toBe("homelab.yaml");
  });

  it("offline: says could not check and exits 0 (1 with --strict)", async () => {
    const env = server.env;
    await server.close();
    // The port is closed: the refusal is immediate. A short deadline would race it on a loaded
    // machine (the timer fired first once, giving "no answer within 300 ms").
    const r = await homelab(["versions", "check", "--timeout", "10000"], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/alpine\.version: could not check: connection refused by 127\.0\.0\.1:\d+/);
    expect((await homelab(["versions", "check", "--strict"], env)).exitCode).toBe(1);
  });

  it("uses its cache when the server goes down, and --refresh bypasses it", async () => {
    const env = server.env;
    const online = await homelab(["versions", "check"]);
    await server.close();
    const cached = await homelab(["versions", "check"], env);
    expect(cached.stdout).toBe(online.stdout);
    const refreshed = await homelab(["versions", "check", "--refresh"], env);
    expect(refreshed.stdout).toMatch(/could not check: connection refused/);
  });
});

describe("homelab versions bump", () => {
  it("--dry-run prints the diff and writes nothing", async () => {
    const r = await homelab(["versions", "bump", "--dry-run"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("-  version: 3.24.1 # pinned\n+  version: 3.24.2 # pinned\n+  isoChecksum: sha256:");
    expect(r.stdout).toContain("alpine.version: 3.24.1 -> 3.24.2\nk8s.version: v1.34.2 -> v1.34.4\ndry run: nothing written");
    expect(await readFile(join(dir, "homelab.yaml"), "utf8")).toBe(CONFIG);
  });

  it("--minor writes the file atomically; validate accepts it; a second bump has nothing to do", async () => {
    const r = await homelab(["versions", "bump", "--minor"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const after = await readFile(join(dir, "homelab.yaml"), "utf8");
    expect(after).toMatch(/^# lab config\nalpine:\n  version: 3\.24\.2 # pinned\n  isoChecksum: sha256:[0-9a-f]{64}\n  arch: x86_64\n\nk8s:\n  distribution: kubeadm\n  version: v1\.35\.1 # control plane is on 1\.34\n$/);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect((await homelab(["validate"])).exitCode).toBe(0);
    const again = await homelab(["versions", "bump", "--minor"]);
    expect(again.stdout).toBe("homelab.yaml: every pin is already the newest stable release");
    expect((await homelab(["versions", "check", "--strict"])).exitCode).toBe(0);
  });

  it("offline: fails with exit 1, could-not-check, and leaves the file alone", async () => {
    const env = server.env;
    await server.close();
    const r = await homelab(["versions", "bump", "--timeout", "10000"], env); // refused at once (see check)
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/could not check: connection refused .*\(nothing written\)/);
    expect(await readFile(join(dir, "homelab.yaml"), "utf8")).toBe(CONFIG);
  });

  it("usage errors exit 2", async () => {
    expect((await homelab(["versions", "bump", "--patch", "--minor"])).exitCode).toBe(2);
    const missing = await homelab(["versions", "bump", "-c", "nope.yaml"]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("nope.yaml: no such file");
  });

  it("leaves the file alone when nothing is newer; check flags a checksum Alpine does not publish", async () => {
    const pinned = `alpine:\n  version: 3.24.2\n  isoChecksum: sha256:${SHA_3241.replace("e73a", "0000")}\n`;
    await writeFile(join(dir, "homelab.yaml"), pinned);
    const r = await homelab(["versions", "bump"]);
    expect(r.stdout).toContain("already the newest patch release");
    expect(await readFile(join(dir, "homelab.yaml"), "utf8")).toBe(pinned);
    // ...but check notices the checksum is not what Alpine publishes.
    const check = await homelab(["versions", "check", "--strict"]);
    expect(check.exitCode).toBe(1);
    expect(check.stdout).toMatch(/problem: alpine\.isoChecksum sha256:0000.* is not the sha256 Alpine publishes for alpine-virt-3\.24\.2-x86_64\.iso/);
  });
});
