import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { checkVersions, needsAttention, type PinReport } from "../../src/versions/drift.js";
import { driftLines, renderReport } from "../../src/versions/render.js";
import { Upstream, type UpstreamOptions } from "../../src/versions/upstream.js";
import { driftWarnings } from "../../src/versions/warnings.js";
import { UpstreamServer } from "../support/upstream-server.js";

const TODAY = new Date("2026-11-23T12:00:00Z");
const SHA_3241 = "sha256:e73a6241bd5f3c5c2d4d38c02cc52c378c0415a7c888bd292066bf36e0f41a39";
const ANY_SHA = `sha256:${"ab".repeat(32)}`;
// The fixtures' invented checksums are the sha256 of the file name (test/fixtures/versions/README.md).
const fixtureSha = (version: string) => `sha256:${createHash("sha256").update(`alpine-virt-${version}-x86_64.iso`).digest("hex")}`;

let server: UpstreamServer;
let cacheDir: string;
beforeEach(async () => {
  server = await UpstreamServer.start();
  cacheDir = await mkdtemp(join(tmpdir(), "homelab-drift-"));
});
afterEach(async () => {
  await server.close();
  await rm(cacheDir, { recursive: true, force: true });
});

// A generous default deadline: only the tests about timeouts set a short one.
const upstream = (opts: UpstreamOptions = {}) => new Upstream(undefined, { ...server.urls, cacheDir, timeoutMs: 10_000, env: {}, ...opts });

function config(alpine: string, k8s?: string, extra = ""): ReturnType<typeof parseConfig> {
  const [distribution, version] = k8s?.split(" ") ?? [];
  return parseConfig(
    `alpine:\n  version: ${alpine}\n  isoChecksum: ${alpine === "3.24.1" ? SHA_3241 : alpine === "3.24.2" ? fixtureSha(alpine) : ANY_SHA}\n${extra}` +
      (k8s ? `k8s:\n  distribution: ${distribution}\n  version: ${version}\n` : ""),
  );
}

async function pins(c: ReturnType<typeof parseConfig>): Promise<Record<string, PinReport>> {
  const report = await checkVersions(c, upstream(), TODAY);
  return Object.fromEntries(report.pins.map((p) => [p.pin, p]));
}

describe("checkVersions verdicts", () => {
  it("current when every pin is the newest release", async () => {
    const report = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), upstream(), TODAY);
    expect(report.pins.map((p) => [p.pin, p.pinned, p.newestPatch, p.newestStable, p.verdict])).toEqual([
      ["alpine.version", "3.24.2", "3.24.2", "3.24.2", "current"],
      // The flannel a kubeadm box carries (homelab's own pin): its tag and its manifest's digest.
      ["k8s.cni", "v0.28.9", "v0.28.9", "v0.28.9", "current"],
      ["k8s.version", "v1.35.1", "v1.35.1", "v1.35.1", "current"],
    ]);
    expect(server.requests).toEqual(expect.arrayContaining(["/github/flannel/releases/tags/v0.28.9", "/github/flannel/releases/latest"]));
    expect(report.problems).toEqual([]);
    expect(needsAttention(report)).toBe(false);
    expect(driftLines(report)).toEqual([]);
  });

  it("patch behind / minor behind per pin", async () => {
    const p = await pins(config("3.24.1", "kubeadm v1.34.2"));
    expect(p["alpine.version"]).toMatchObject({ verdict: "patch behind", newestPatch: "3.24.2" });
    expect(p["k8s.version"]).toMatchObject({ verdict: "minor behind", newestPatch: "v1.34.4", newestStable: "v1.35.1" });
    const q = await pins(config("3.23.5"));
    expect(q["alpine.version"]).toMatchObject({ verdict: "minor behind", newestStable: "3.24.2" });
    expect(q["k8s.version"]).toBeUndefined();
  });

  it("unsupported: an Alpine branch past its end of support, a Kubernetes minor older than the newest three", async () => {
    const p = await pins(config("3.21.6", "kubeadm v1.31.14"));
    expect(p["alpine.version"]).toMatchObject({ verdict: "unsupported", why: "Alpine 3.21 reached end of support on 2026-11-01" });
    expect(p["k8s.version"]).toMatchObject({ verdict: "unsupported", why: expect.stringMatching(/newest 3 minors \(newest is 1\.35\)/) });
    // The same Alpine branch a month earlier was merely behind.
    const october = await checkVersions(config("3.21.6"), upstream(), new Date("2026-10-20"));
    expect(october.pins[0]!.verdict).toBe("minor behind");
  });

  it("not upstream: a release newer than the branch's newest, a missing tag, an unknown branch", async () => {
    expect((await pins(config("3.24.7")))["alpine.version"]).toMatchObject({ verdict: "not upstream", why: "the newest Alpine 3.24 release is 3.24.2" });
    expect((await pins(config("3.24.2", "kubeadm v1.35.0")))["k8s.version"]).toMatchObject({
      verdict: "not upstream",
      why: "Kubernetes has no release tag v1.35.0",
    });
    expect((await pins(config("3.22.1")))["alpine.version"]).toMatchObject({ verdict: "not upstream", why: expect.stringMatching(/no Alpine 3\.22 releases for x86_64/) });
  });

  it("k3s: newest of its minor from the v1.X channel, stable from the stable channel", async () => {
    const p = await pins(config("3.24.2", "k3s v1.35.1+k3s1"));
    // stable trails at 1.34; a newer pin is not "behind".
    expect(p["k8s.version"]).toMatchObject({ verdict: "current", newestPatch: "v1.35.1+k3s1", newestStable: "v1.34.4+k3s1" });
    expect((await pins(config("3.24.2", "k3s v1.33.2+k3s1")))["k8s.version"]).toMatchObject({ verdict: "minor behind", newestPatch: "v1.33.8+k3s1" });
    expect((await pins(config("3.24.2", "k3s v1.34.4+k3s0")))["k8s.version"]?.verdict).toBe("patch behind");
    expect((await pins(config("3.24.2", "k3s v1.32.12+k3s1")))["k8s.version"]?.verdict).toBe("unsupported");
    expect((await pins(config("3.24.2", "k3s v1.36.0+k3s1")))["k8s.version"]).toMatchObject({ verdict: "not upstream", why: expect.stringMatching(/no k3s channel v1\.36/) });
  });
});

describe("consistency checks", () => {
  it("the pause image homelab pins must be what that kubeadm release expects", async () => {
    server.tags["v1.35.1"] = "3.11";
    const report = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), upstream(), TODAY);
    expect(report.problems).toEqual([
      "pause image: homelab pins registry.k8s.io/pause:3.10.1 for Kubernetes 1.35, but kubeadm v1.35.1 expects registry.k8s.io/pause:3.11",
    ]);
    expect(needsAttention(report)).toBe(true);
    expect(server.requests).toContain("/k8s/source/v1.35.1/cmd/kubeadm/app/constants/constants.go");
  });

  it("k3s brings its own pause image: no kubeadm source is asked", async () => {
    await checkVersions(config("3.24.2", "k3s v1.35.1+k3s1"), upstream(), TODAY);
    expect(server.requests.some((p) => p.includes("constants.go"))).toBe(false);
  });

  it("the ISO checksum must be the one Alpine publishes for the pinned release", async () => {
    const good = await checkVersions(config("3.24.1"), new Upstream(undefined, { ...server.urls, alpineMirror: `${server.base}/alpine-3.24.1`, cacheDir, env: {} }), TODAY);
    expect(good.problems).toEqual([]);
    const bad = await checkVersions(parseConfig(`alpine:\n  version: 3.24.2\n  isoChecksum: ${ANY_SHA}\n`), upstream(), TODAY);
    expect(bad.problems).toEqual([expect.stringMatching(/^alpine\.isoChecksum sha256:abab.* is not the sha256 Alpine publishes for alpine-virt-3\.24\.2-x86_64\.iso/)]);
  });
});

describe("offline and broken upstream", () => {
  it("says could not check, but still knows end-of-life dates without the network", async () => {
    await server.close();
    const report = await checkVersions(config("3.21.6", "kubeadm v1.35.1"), upstream(), TODAY);
    const p = Object.fromEntries(report.pins.map((r) => [r.pin, r]));
    expect(p["alpine.version"]?.verdict).toBe("unsupported");
    expect(p["k8s.version"]).toMatchObject({ verdict: "unchecked", why: expect.stringMatching(/^could not check: connection refused by 127\.0\.0\.1/) });
    expect(renderReport(report)).toMatch(/k8s\.version: could not check: connection refused/);
  });

  it("a wrong base URL (everything 404) is unchecked, not 'not upstream'", async () => {
    const wrong = new Upstream(undefined, {
      alpineMirror: `${server.base}/not-a-mirror`,
      kubernetesReleaseUrl: `${server.base}/nothing`,
      kubernetesSourceUrl: `${server.base}/nothing`,
      k3sChannelsUrl: `${server.base}/nothing`,
      flannelReleasesUrl: `${server.base}/nothing`,
      cacheDir,
      env: {},
    });
    const kubeadm = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), wrong, TODAY);
    expect(kubeadm.pins.map((p) => p.verdict)).toEqual(["unchecked", "unchecked", "unchecked"]);
    expect(kubeadm.pins[0]!.why).toMatch(/answered HTTP 404 \(is alpine\.mirror an Alpine mirror\?\)$/);
    expect(kubeadm.pins[1]!.why).toMatch(/answered HTTP 404 \(is the flannel releases URL right\?\)$/);
    const k3s = await checkVersions(config("3.24.2", "k3s v1.35.1+k3s1"), wrong, TODAY);
    expect(k3s.pins[1]).toMatchObject({ verdict: "unchecked", why: expect.stringMatching(/^could not check: .*\/nothing answered HTTP 404$/) });
  });

  it("garbage answers make a pin unchecked, not wrong", async () => {
    server.faults.set("/alpine/latest-stable/releases/x86_64/latest-releases.yaml", { body: "- {{{" });
    server.faults.set("/k8s/release/stable.txt", { body: "<!doctype html>" });
    server.faults.set("/github/flannel/releases/latest", { body: "<html>rate limited</html>" });
    const report = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), upstream(), TODAY);
    expect(report.pins.map((r) => r.verdict)).toEqual(["unchecked", "unchecked", "unchecked"]);
    expect(report.pins[0]!.why).toMatch(/latest-releases\.yaml: not valid YAML/);
    expect(report.pins[1]!.why).toMatch(/releases\/latest: not valid JSON/);
    expect(report.pins[2]!.why).toMatch(/stable\.txt: expected a release like v1\.35\.1/);
  });
});

describe("the flannel pin (k8s.cni: flannel, homelab's own)", () => {
  const LATEST = "/github/flannel/releases/latest";
  const PINNED = "/github/flannel/releases/tags/v0.28.9";
  /** The recorded release answer with another tag and kube-flannel.yml digest. */
  const release = (tag: string, manifestDigest: string | null) => {
    const r = JSON.parse(readFileSync(new URL("../fixtures/versions/github/flannel/releases/latest.json", import.meta.url), "utf8")) as {
      tag_name: string; assets: Array<{ name: string; digest: string | null }>;
    };
    r.tag_name = tag;
    for (const a of r.assets) if (a.name === "kube-flannel.yml") a.digest = manifestDigest;
    return JSON.stringify(r);
  };

  it("is checked only when the box carries flannel: not with cni none, bake none or k3s", async () => {
    for (const extra of ["  cni: none\n", "  bake: none\n"]) {
      const c = parseConfig(`alpine: {version: 3.24.2, isoChecksum: '${fixtureSha("3.24.2")}'}\nk8s:\n  distribution: kubeadm\n${extra}`);
      expect((await checkVersions(c, upstream(), TODAY)).pins.map((p) => p.pin)).toEqual(["alpine.version", "k8s.version"]);
    }
    expect((await checkVersions(config("3.24.2", "k3s v1.35.1+k3s1"), upstream(), TODAY)).pins.map((p) => p.pin)).not.toContain("k8s.cni");
    expect(server.requests.filter((r) => r.startsWith("/github/"))).toEqual([]);
  });

  it("a newer patch or minor is reported with how the pin moves (a newer homelab), not a bump", async () => {
    server.faults.set(LATEST, { body: release("v0.28.10", null) });
    const patch = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), upstream(), TODAY);
    expect(patch.pins.find((p) => p.pin === "k8s.cni")).toMatchObject({ verdict: "patch behind", newestPatch: "v0.28.10", newestStable: "v0.28.10" });
    expect(driftLines(patch)).toEqual([
      "k8s.cni v0.28.9 is a patch behind: flannel v0.28.10 is out; homelab pins flannel itself with its manifest checksum and images (a newer homelab moves them)",
    ]);
    await rm(cacheDir, { recursive: true, force: true });
    server.faults.set(LATEST, { body: release("v0.29.0", null) });
    const minor = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), upstream(), TODAY);
    expect(minor.pins.find((p) => p.pin === "k8s.cni")).toMatchObject({ verdict: "minor behind", newestStable: "v0.29.0" });
    expect(driftLines(minor)[0]).toMatch(/^k8s\.cni v0\.28\.9 is a minor behind: flannel v0\.29\.0 is out; .*a newer homelab moves them\)$/);
  });

  it("a pinned manifest checksum that is not the digest GitHub shows is a problem; no digest is a note", async () => {
    server.faults.set(PINNED, { body: release("v0.28.9", `sha256:${"0".repeat(64)}`) });
    const report = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), upstream(), TODAY);
    expect(report.problems).toEqual([
      `the flannel v0.28.9 manifest pin sha256:1c06a15a771009c263bdb1f51c928af46f7606fe969f3963652167938d536aaa is not the digest GitHub shows for kube-flannel.yml (sha256:${"0".repeat(64)})`,
    ]);
    expect(needsAttention(report)).toBe(true);
    await rm(cacheDir, { recursive: true, force: true });
    server.faults.set(PINNED, { body: release("v0.28.9", null) });
    const old = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), upstream(), TODAY);
    expect(old.problems).toEqual([]);
    expect(old.notes).toEqual(["flannel v0.28.9: GitHub shows no sha256 for kube-flannel.yml, so the pinned checksum was not compared"]);
  });

  it("not upstream when the pinned tag has no release; a prerelease answer is not taken for one", async () => {
    server.faults.set(PINNED, { status: 404, body: '{"message":"Not Found","status":"404"}' });
    const report = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), upstream(), TODAY);
    expect(report.pins.find((p) => p.pin === "k8s.cni")).toMatchObject({ verdict: "not upstream", why: expect.stringMatching(/^flannel has no release v0\.28\.9 \(/) });
    await rm(cacheDir, { recursive: true, force: true });
    server.faults.delete(PINNED);
    server.faults.set(LATEST, { body: JSON.stringify({ ...JSON.parse(release("v0.30.0", null)), prerelease: true }) });
    const pre = await checkVersions(config("3.24.2", "kubeadm v1.35.1"), upstream(), TODAY);
    expect(pre.pins.find((p) => p.pin === "k8s.cni")).toMatchObject({ verdict: "unchecked", why: expect.stringMatching(/v0\.30\.0 is a draft or a prerelease/) });
  });
});

describe("driftWarnings (for generate and build)", () => {
  const c = () => config("3.24.1", "kubeadm v1.34.2");

  it("one line per drifted pin", async () => {
    expect(await driftWarnings(c(), { ...server.urls, cacheDir, env: {}, today: TODAY, budgetMs: 10_000 })).toEqual([
      "alpine.version 3.24.1 is a patch behind: 3.24.2 is out (run `homelab versions bump --patch`)",
      "k8s.version v1.34.2 is a minor behind: the newest stable is v1.35.1 (run `homelab versions bump --minor`)",
    ]);
  });

  it("HOMELAB_NO_VERSION_CHECK=1 turns it off: no request at all", async () => {
    expect(await driftWarnings(c(), { ...server.urls, cacheDir, env: { HOMELAB_NO_VERSION_CHECK: "1" } })).toEqual([]);
    expect(server.requests).toEqual([]);
  });

  it("keeps to its time budget when upstream hangs", async () => {
    server.allPaths = { delayMs: 20_000 };
    const started = Date.now();
    const lines = await driftWarnings(c(), { ...server.urls, cacheDir, env: {}, budgetMs: 300, timeoutMs: 10_000, today: TODAY });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(lines).toEqual([
      "could not check the pins against upstream: the check took longer than 300 ms; said at most once a day, `homelab versions check` tells more",
    ]);
  });

  it("offline: one line for every pin that could not be checked, at most once a day", async () => {
    server.allPaths = { delayMs: 20_000 };
    let now = TODAY.getTime();
    const warn = () => driftWarnings(c(), { ...server.urls, cacheDir, env: {}, budgetMs: 3000, timeoutMs: 150, today: TODAY, now: () => now });
    expect(await warn()).toEqual([
      expect.stringMatching(
        /^could not check the pins against upstream: alpine\.version: no answer from .* within 150 ms \(and 2 more\); said at most once a day/,
      ),
    ]);
    now += 23 * 60 * 60 * 1000;
    expect(await warn()).toEqual([]);
    now += 2 * 60 * 60 * 1000;
    expect(await warn()).toHaveLength(1);
  });

  it("never says it could not check while the cache is fresh, even with upstream gone", async () => {
    // Warm the cache; an hour later upstream is gone, but the answers are still fresh.
    const fresh = await driftWarnings(c(), { ...server.urls, cacheDir, env: {}, today: TODAY, budgetMs: 10_000 });
    expect(fresh.some((l) => l.includes("could not check"))).toBe(false);
    const urls = server.urls;
    await server.close();
    const later = await driftWarnings(c(), { ...urls, cacheDir, env: {}, today: TODAY, budgetMs: 10_000, now: () => Date.now() + 60 * 60 * 1000 });
    expect(later).toEqual(fresh);
    server = await UpstreamServer.start();
  });

  it("uses the cache when the server is down", async () => {
    const warm = await driftWarnings(c(), { ...server.urls, cacheDir, env: {}, today: TODAY, budgetMs: 10_000 });
    const urls = server.urls;
    await server.close();
    expect(await driftWarnings(c(), { ...urls, cacheDir, env: {}, today: TODAY, budgetMs: 10_000 })).toEqual(warm);
  });
});

describe("containerd and runc pins (Debian kubeadm nodes), against GitHub's recorded release list", () => {
  const debian = (runtime = "") => parseConfig(`debian: {}\nk8s:\n  distribution: kubeadm\n  version: v1.36.5\n${runtime}`);

  it("the default pins are current, and their sha256 are the ones the releases publish", async () => {
    const report = await checkVersions(debian(), upstream(), TODAY);
    const rows = report.pins.filter((p) => p.pin !== "k8s.version" && p.pin !== "debian.iso" && p.pin !== "k8s.cni");
    expect(rows.map((p) => [p.pin, p.pinned, p.newestPatch, p.newestStable, p.verdict])).toEqual([
      ["k8s.containerd.version", "2.3.4", "2.3.4", "2.3.4", "current"],
      ["k8s.runc.version", "1.4.3", "1.4.3", "1.4.3", "current"],
    ]);
    expect(report.problems.filter((p) => /containerd|runc/.test(p))).toEqual([]);
    // Drafts and pre-releases (2.5.0 draft, 2.4.0-beta.0, runc 1.5.0-rc.1) are not newer releases.
    expect(server.requests).toEqual(expect.arrayContaining([
      "/github-api/repos/containerd/containerd/releases",
      "/github/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz.sha256sum",
      "/github/opencontainers/runc/releases/download/v1.4.3/runc.sha256sum",
    ]));
  });

  it("an older line is minor behind (its newest patch named); a pinned sha256 that is not the published one is a problem", async () => {
    const sha = createHash("sha256").update("containerd-2.2.6-linux-amd64.tar.gz").digest("hex");
    const report = await checkVersions(debian(`  containerd: {version: 2.2.6, sha256: "sha256:${sha}"}\n  runc: {version: 1.4.3, sha256: "sha256:${"ab".repeat(32)}"}\n`), upstream(), TODAY);
    expect(report.pins.find((p) => p.pin === "k8s.containerd.version")).toMatchObject({ verdict: "minor behind", newestPatch: "2.2.7", newestStable: "2.3.4" });
    expect(report.problems).toEqual([
      `k8s.runc: the pinned sha256 ${"ab".repeat(32)} is not the one runc 1.4.3 publishes for amd64 (f6ae8efc0fa40079e1475e97cbe9d1bd3f106a28d6af78a11d9f1bd565515e60)`,
    ]);
    expect(needsAttention(report)).toBe(true);
  });

  it("a release GitHub does not list is not upstream; an unreachable GitHub leaves the pins unchecked", async () => {
    const report = await checkVersions(debian(`  containerd: {version: 2.3.9, sha256: "sha256:${"cd".repeat(32)}"}\n`), upstream(), TODAY);
    expect(report.pins.find((p) => p.pin === "k8s.containerd.version")).toMatchObject({ verdict: "not upstream", why: "containerd has no final release 2.3.9" });
    server.faults.set("/github-api/repos/opencontainers/runc/releases", { status: 503, body: "unavailable" });
    const down = await checkVersions(debian(), upstream({ refresh: true }), TODAY);
    expect(down.pins.find((p) => p.pin === "k8s.runc.version")).toMatchObject({ verdict: "unchecked" });
  });
});
