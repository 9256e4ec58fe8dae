import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UpstreamError } from "../../src/versions/http.js";
import { Upstream, type UpstreamOptions } from "../../src/versions/upstream.js";
import { UpstreamServer } from "../support/upstream-server.js";

let server: UpstreamServer;
let cacheDir: string;
let clock: number;

beforeEach(async () => {
  server = await UpstreamServer.start();
  cacheDir = await mkdtemp(join(tmpdir(), "homelab-versions-cache-"));
  clock = Date.parse("2026-11-23T12:00:00Z");
});
afterEach(async () => {
  await server.close();
  await rm(cacheDir, { recursive: true, force: true });
});

const HOUR = 3600_000;
const upstream = (opts: UpstreamOptions = {}) =>
  // A generous default deadline: only the tests about timeouts set a short one.
  new Upstream(undefined, { ...server.urls, cacheDir, ttlMs: 6 * HOUR, timeoutMs: 10_000, now: () => clock, env: {}, ...opts });
const STABLE = "/k8s/release/stable.txt";

describe("Upstream sources against a local server", () => {
  it("reads all three sources in their real formats", async () => {
    const u = upstream();
    expect((await u.alpine("3.24", "aarch64")).value).toMatchObject({ version: "3.24.2", file: "alpine-virt-3.24.2-aarch64.iso" });
    expect((await u.alpine("latest-stable", "x86_64")).value.version).toBe("3.24.2");
    expect((await u.kubernetesStable()).value).toBe("v1.35.1");
    expect((await u.kubernetesStable("1.31")).value).toBe("v1.31.14");
    expect((await u.kubeadmPauseVersion("v1.35.1")).value).toBe("3.10.1");
    expect((await u.k3sChannels()).value.latest.get("v1.33")).toBe("v1.33.8+k3s1");
    expect(server.requests).toContain("/alpine/v3.24/releases/aarch64/latest-releases.yaml");
    expect(server.requests).toContain("/alpine/latest-stable/releases/x86_64/latest-releases.yaml");
  });

  it("answers from a fresh cache without asking, even when the server is down", async () => {
    const first = await upstream().kubernetesStable();
    expect(first.provenance).toEqual({ from: "network" });
    await server.close();
    clock += HOUR;
    const again = await upstream().kubernetesStable();
    expect(again).toEqual({ value: "v1.35.1", provenance: { from: "cache", ageMs: HOUR } });
  });

  it("asks again once the TTL has passed", async () => {
    await upstream().kubernetesStable();
    clock += 7 * HOUR;
    server.faults.set(STABLE, { body: "v1.35.2\n" });
    const later = await upstream().kubernetesStable();
    expect(later).toEqual({ value: "v1.35.2", provenance: { from: "network" } });
    expect(server.requests.filter((p) => p === STABLE)).toHaveLength(2);
  });

  it("falls back to an expired cache entry when upstream is unreachable, and says so", async () => {
    await upstream().kubernetesStable();
    clock += 30 * HOUR;
    server.faults.set(STABLE, { status: 503, body: "<html>bad gateway</html>" });
    const stale = await upstream().kubernetesStable();
    expect(stale.value).toBe("v1.35.1");
    expect(stale.provenance).toMatchObject({ from: "stale cache", ageMs: 30 * HOUR, reason: expect.stringContaining("HTTP 503") });
  });

  it("--refresh bypasses a fresh cache, and does not hide an outage behind it", async () => {
    await upstream().kubernetesStable();
    server.faults.set(STABLE, { body: "v1.35.3\n" });
    expect((await upstream({ refresh: true }).kubernetesStable()).value).toBe("v1.35.3");
    // The refreshed answer replaced the cached one.
    expect((await upstream().kubernetesStable()).value).toBe("v1.35.3");
    server.faults.set(STABLE, { status: 500 });
    await expect(upstream({ refresh: true }).kubernetesStable()).rejects.toThrow(/HTTP 500/);
  });

  it("gives up on a server that never answers, with a reason naming the URL and deadline", async () => {
    server.faults.set(STABLE, { delayMs: 10_000 });
    const err = await upstream({ timeoutMs: 200 }).kubernetesStable().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).reason).toBe(`no answer from ${server.urls.kubernetesReleaseUrl}/stable.txt within 200 ms`);
  });

  it("gives up on a body that stalls half-way", async () => {
    server.faults.set(STABLE, { stallBody: true });
    await expect(upstream({ timeoutMs: 200 }).kubernetesStable()).rejects.toThrow(/within 200 ms/);
  });

  it("reports a 404 as an answer (status kept), never replaced by a cached copy", async () => {
    await upstream().kubernetesStable("1.35");
    clock += 30 * HOUR;
    server.faults.set("/k8s/release/stable-1.35.txt", { status: 404 });
    const err = (await upstream().kubernetesStable("1.35").catch((e: unknown) => e)) as UpstreamError;
    expect(err.status).toBe(404);
    expect(err.reason).toMatch(/stable-1\.35\.txt answered HTTP 404$/);
  });

  it("does not cache garbage: a broken answer fails now and is asked again next time", async () => {
    server.faults.set("/k3s/v1-release/channels", { body: "<html>maintenance</html>" });
    await expect(upstream().k3sChannels()).rejects.toThrow(/channels: not valid JSON/);
    server.faults.delete("/k3s/v1-release/channels");
    expect((await upstream().k3sChannels()).provenance).toEqual({ from: "network" });
    expect(server.requests.filter((p) => p === "/k3s/v1-release/channels")).toHaveLength(2);
  });

  it("treats a damaged cache file as a miss", async () => {
    await upstream().kubernetesStable();
    for (const f of await readdir(cacheDir)) await writeFile(join(cacheDir, f), "{truncated");
    expect((await upstream().kubernetesStable()).provenance).toEqual({ from: "network" });
  });

  it("names connection refused when nothing listens", async () => {
    const url = server.urls.kubernetesReleaseUrl;
    await server.close();
    await expect(upstream({ kubernetesReleaseUrl: url }).kubernetesStable()).rejects.toThrow(/connection refused by 127\.0\.0\.1:\d+/);
  });

  it("takes base URLs from the environment, and refuses non-http ones", async () => {
    const u = new Upstream("https://ignored.example/alpine", { cacheDir, env: { HOMELAB_ALPINE_MIRROR: server.urls.alpineMirror } });
    expect((await u.alpine("3.23", "x86_64")).value.version).toBe("3.23.5");
    expect(() => new Upstream(undefined, { cacheDir, env: { HOMELAB_K3S_CHANNELS_URL: "file:///etc/passwd" } })).toThrow(/k3sChannels: expected an http/);
  });
});
