import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ResponseCache } from "../../src/versions/cache.js";
import { Upstream } from "../../src/versions/upstream.js";
import { Sentinel } from "../support/sentinel-file.js";
import { UpstreamServer } from "../support/upstream-server.js";

/**
 * The versions cache is a directory of files homelab wrote, but anything can be put there. A
 * FIFO must not block `check` or `generate`, a symbolic link must not make homelab read another
 * file, an entry dated in the future must not be trusted forever, and `bump` must not write pins
 * from an answer only an old cache had (unless --allow-stale says so).
 */

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "homelab.js");
const CONFIG = "alpine:\n  version: 3.24.1\nk8s:\n  distribution: kubeadm\n  version: v1.34.2\n";
const DAY = 24 * 60 * 60 * 1000;

let server: UpstreamServer;
let dir: string;
let sentinel: Sentinel;

beforeAll(() => {
  expect(Sentinel.readsAreVisible()).toBe(true);
  sentinel = Sentinel.plant();
});
afterAll(() => {
  sentinel.expectUntouched();
  sentinel.remove();
});
beforeEach(async () => {
  server = await UpstreamServer.start();
  dir = mkdtempSync(join(tmpdir(), "homelab-cache-hostile-"));
  writeFileSync(join(dir, "homelab.yaml"), CONFIG);
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const cacheDir = () => join(dir, "cache", "versions");
const entries = () => readdirSync(cacheDir()).filter((f) => f.endsWith(".json"));

/** The CLI in a clean environment, with a deadline: a hang fails the test instead of stalling it. */
function homelab(args: string[], env: Record<string, string>) {
  return execa("node", [BIN, ...args], {
    cwd: dir,
    reject: false,
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? "", HOME: dir, HOMELAB_CACHE_DIR: join(dir, "cache"), ...env },
    extendEnv: false,
  });
}

describe("cache entries that are not what homelab wrote", () => {
  it("FIFOs in place of every entry: check and generate finish offline, nothing blocks", async () => {
    const env = server.env;
    expect((await homelab(["versions", "check"], env)).exitCode).toBe(0);
    const names = entries();
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of names) {
      rmSync(join(cacheDir(), name));
      execFileSync("mkfifo", [join(cacheDir(), name)]);
    }
    await server.close();
    const check = await homelab(["versions", "check", "--timeout", "5000"], env);
    expect(check.timedOut).toBe(false);
    expect(check.exitCode, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/could not check: connection refused/);
    const generate = await homelab(["generate", "--packer-version", "1.6.6"], env);
    expect(generate.timedOut).toBe(false);
    expect(generate.exitCode, generate.stderr).toBe(0);
  });

  it("a symbolic link to a user's file is a miss: the file is not read", async () => {
    const upstream = new Upstream(undefined, { ...server.urls, cacheDir: cacheDir(), env: {} });
    await upstream.kubernetesStable("1.34");
    const [name] = entries();
    rmSync(join(cacheDir(), name!));
    symlinkSync(sentinel.path, join(cacheDir(), name!));
    const cache = new ResponseCache(cacheDir());
    const url = `${server.urls.kubernetesReleaseUrl}/stable-1.34.txt`;
    expect(await cache.read(url)).toBeUndefined();
    sentinel.expectUntouched();
  });

  it("an entry dated in the future is never fresh, nor a fallback", async () => {
    const now = Date.now();
    const cache = new ResponseCache(cacheDir());
    const url = `${server.urls.kubernetesReleaseUrl}/stable-1.34.txt`;
    await cache.write({ url, fetchedAt: now + 365 * DAY, body: "v1.34.0\n" });
    const upstream = () => new Upstream(undefined, { ...server.urls, cacheDir: cacheDir(), env: {}, now: () => now, timeoutMs: 5000 });
    const online = await upstream().kubernetesStable("1.34");
    expect(online.provenance).toEqual({ from: "network" });
    expect(online.value).not.toBe("v1.34.0");
    await cache.write({ url, fetchedAt: now + 365 * DAY, body: "v1.34.0\n" });
    await server.close();
    await expect(upstream().kubernetesStable("1.34")).rejects.toThrow(/connection refused/);
  });
});

describe("versions bump with upstream down", () => {
  it("refuses pins from a 30-day-old cache, writes nothing; --allow-stale uses it", async () => {
    const env = server.env;
    expect((await homelab(["versions", "check"], env)).exitCode).toBe(0);
    // Age every entry by 30 days, as if the last successful check was a month ago.
    for (const name of entries()) {
      const path = join(cacheDir(), name);
      const entry = JSON.parse(readFileSync(path, "utf8")) as { fetchedAt: number };
      writeFileSync(path, JSON.stringify({ ...entry, fetchedAt: entry.fetchedAt - 30 * DAY }));
    }
    await server.close();
    const refused = await homelab(["versions", "bump", "--timeout", "5000"], env);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/^homelab: (alpine|k8s)\.version: could not check: connection refused [^\n]*; the only answer is a cached one 30 days old \(nothing written\)\n  retry when upstream answers, or pass --allow-stale to use the cached answer$/);
    expect(readFileSync(join(dir, "homelab.yaml"), "utf8")).toBe(CONFIG);

    const allowed = await homelab(["versions", "bump", "--timeout", "5000", "--allow-stale"], env);
    expect(allowed.exitCode, allowed.stderr).toBe(0);
    expect(readFileSync(join(dir, "homelab.yaml"), "utf8")).toMatch(/version: 3\.24\.2\n  isoChecksum: sha256:[0-9a-f]{64}\n[\s\S]*version: v1\.34\.4/);
  });
});
