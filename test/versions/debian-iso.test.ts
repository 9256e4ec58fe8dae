import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULTS } from "../../src/config/defaults.js";
import { parseConfig } from "../../src/config/load.js";
import { checkVersions } from "../../src/versions/drift.js";
import { driftLines } from "../../src/versions/render.js";
import { Upstream } from "../../src/versions/upstream.js";
import { UpstreamServer } from "../support/upstream-server.js";

/** `versions check` on a Debian config sees homelab's netinst pin (src/config/defaults.ts). */
let server: UpstreamServer;
let cacheDir: string;
beforeEach(async () => {
  server = await UpstreamServer.start();
  cacheDir = await mkdtemp(join(tmpdir(), "homelab-debian-iso-"));
});
afterEach(async () => {
  await server.close();
  await rm(cacheDir, { recursive: true, force: true });
});

const upstream = () => new Upstream(undefined, { ...server.urls, cacheDir, timeoutMs: 500, env: {} });
const PINNED = DEFAULTS.debian.netinst.version;
const SUMS = `/debian-cd/archive/${PINNED}/amd64/iso-cd/SHA256SUMS`;
const check = async (yaml = "debian: {}\nk8s: {distribution: kubeadm, version: v1.35.1}\n") => checkVersions(parseConfig(yaml), upstream());

describe("the Debian netinst pin in versions check", () => {
  it("is a row of its own, current when it is the newest point release of its Debian and its checksum is Debian's", async () => {
    const report = await check();
    // (The runtime pins' rows are drift.test.ts's.)
    expect(report.pins.filter((p) => !/^k8s\.(containerd|runc)\./.test(p.pin)).map((p) => [p.pin, p.pinned, p.newestPatch, p.verdict])).toEqual([
      ["debian.iso", PINNED, PINNED, "current"],
      ["k8s.cni", "v0.28.9", "v0.28.9", "current"],
      ["k8s.version", "v1.35.1", "v1.35.1", "current"],
    ]);
    expect(report.problems).toEqual([]);
    expect(server.requests).toEqual(expect.arrayContaining(["/debian-cd/archive/", SUMS]));
  });

  it("is behind when the archive has a newer point release of the same Debian (a newer Debian major does not count)", async () => {
    server.faults.set("/debian-cd/archive/", { body: '<a href="12.15.0/">12.15.0/</a> <a href="12.16.0/">12.16.0/</a> <a href="13.4.0/">13.4.0/</a>' });
    const [row] = (await check("debian: {}\n")).pins;
    expect(row).toMatchObject({ pin: "debian.iso", verdict: "patch behind", newestPatch: "12.16.0" });
    expect(driftLines(await check("debian: {}\n"))).toEqual([`debian.iso ${PINNED} is a patch behind: Debian 12.16.0 is out; homelab pins the netinst ISO itself (a newer homelab moves it)`]);
  });

  it("reports a pinned checksum that is not the one Debian publishes", async () => {
    server.faults.set(SUMS, { body: `${"0".repeat(64)}  debian-${PINNED}-amd64-netinst.iso\n` });
    const report = await check("debian: {}\n");
    expect(report.problems).toEqual([`the Debian ${PINNED} netinst pin sha256:${DEFAULTS.debian.netinst.sha256.x86_64} is not the sha256 Debian publishes (sha256:${"0".repeat(64)})`]);
  });

  it("is not upstream when the archive has no such release, and unchecked when cdimage cannot be asked", async () => {
    server.faults.set(SUMS, { status: 404, body: "Not Found\n" });
    expect((await check("debian: {}\n")).pins[0]).toMatchObject({ verdict: "not upstream", why: expect.stringMatching(/no Debian 12\.15\.0 amd64 netinst/) });
    await rm(cacheDir, { recursive: true, force: true });
    server.faults.set(SUMS, { status: 503, body: "busy\n" });
    expect((await check("debian: {}\n")).pins[0]).toMatchObject({ verdict: "unchecked" });
  });

  it("is not checked for a bring-your-own image, which has no installer pin", async () => {
    const report = await check(`debian: {}\nbase: {image: /srv/debian.qcow2, checksum: 'sha256:${"cd".repeat(32)}'}\n`);
    expect(report.pins).toEqual([]);
    expect(server.requests).toEqual([]);
  });
});
