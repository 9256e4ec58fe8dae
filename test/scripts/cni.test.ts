import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { type FixtureServer, serveFixtures, sha256Hex } from "../support/fixture-server.js";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { FAMILIES, type FamilyUserland } from "../support/shims.js";
import { cniEnv, FLANNEL_IMAGES, FLANNEL_MANIFEST, FLANNEL_VERSION, flannelRelease } from "./fixtures.js";

/** Where each family's containerd looks for CNI plugins (its containerd.sh's CNI_DIR). */
const CNI_DIR: Record<string, string> = { alpine: "/usr/libexec/cni", debian: "/usr/lib/cni" };
const RECORD = "/etc/homelab/cni";
const RECORDED = ["images.txt", "kube-flannel.yml", "kube-flannel.yml.sha256", "pod-cidr", "version"];

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  sb = undefined;
  await server?.close();
  server = undefined;
});

type Env = Record<string, string>;
async function run(fam: FamilyUserland, bake: string, opts: { routes?: Record<string, string>; env?: Env | ((url: string) => Env); files?: Record<string, string> } = {}) {
  server = await serveFixtures(opts.routes ?? flannelRelease());
  sb ??= await familySandbox(fam, { [`${CNI_DIR[fam.family]}/bridge`]: "", ...opts.files });
  const extra = typeof opts.env === "function" ? opts.env(server.url) : (opts.env ?? {});
  return { r: await sb.run(shippedScript(fam.family, "k8s-cni"), { ...cniEnv(server.url, bake), ...extra }), s: sb };
}

/** Nothing of the step is left: no record, no link, no pull, no staging directory. */
function expectUntouched(s: Sandbox) {
  expect(s.exists(RECORD)).toBe(false);
  expect(s.exists("/opt/cni/bin")).toBe(false);
  expect(s.callsOf("crictl")).toEqual([]);
  expect(readdirSync(s.path("/var/tmp"))).toEqual([]);
}

describe.each(FAMILIES)("k8s-cni on $family", (fam) => {
  it.skipIf(!canRun(fam))("airgap: the manifest verified and stored with its checksum, images, pod CIDR and version; the images pulled through the CRI", async () => {
    const { r, s } = await run(fam, "airgap");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual([`/flannel/${FLANNEL_VERSION}/kube-flannel.yml`]);
    expect(readdirSync(s.path(RECORD)).sort()).toEqual(RECORDED);
    expect(s.read(`${RECORD}/kube-flannel.yml`)).toBe(FLANNEL_MANIFEST);
    expect(s.mode(`${RECORD}/kube-flannel.yml`)).toBe(0o644);
    expect(s.read(`${RECORD}/kube-flannel.yml.sha256`)).toBe(`${sha256Hex(FLANNEL_MANIFEST)}  ${RECORD}/kube-flannel.yml\n`);
    expect(s.read(`${RECORD}/images.txt`)).toBe(`${FLANNEL_IMAGES.join("\n")}\n`);
    expect(s.read(`${RECORD}/pod-cidr`)).toBe("10.244.0.0/16\n");
    expect(s.read(`${RECORD}/version`)).toBe(`flannel ${FLANNEL_VERSION}\n`);
    expect(s.callsOf("crictl")).toEqual(FLANNEL_IMAGES.map((i) => `crictl pull ${i}`));
    expect(s.read("/.shim/images")).toBe(`${FLANNEL_IMAGES.join("\n")}\n`);
    expect(readdirSync(s.path("/var/tmp"))).toEqual([]);
  });

  it.skipIf(!canRun(fam))("flannel's plugin directory (/opt/cni/bin in the manifest) becomes a link to where containerd looks", async () => {
    const { r, s } = await run(fam, "binary");
    expect(r.code).toBe(0);
    // What the manifest's install-cni-plugin container does at runtime, through the hostPath.
    expect((await s.exec([`${fam.bin}/cp`, `${CNI_DIR[fam.family]}/bridge`, "/opt/cni/bin/flannel"])).code).toBe(0);
    expect(s.exists(`${CNI_DIR[fam.family]}/flannel`)).toBe(true);
  });

  it.skipIf(!canRun(fam))("binary: the manifest and its records, no image pulled", async () => {
    const { r, s } = await run(fam, "binary");
    expect(r.code).toBe(0);
    expect(readdirSync(s.path(RECORD)).sort()).toEqual(RECORDED);
    expect(s.callsOf("crictl")).toEqual([]);
  });

  it.skipIf(!canRun(fam))("runs again over its own result (the link is homelab's)", async () => {
    expect((await run(fam, "binary")).r.code).toBe(0);
    await server!.close();
    const again = await run(fam, "binary");
    expect(again.r.stderr).toBe("");
    expect(again.r.code).toBe(0);
  });

  it.skipIf(!canRun(fam))("a manifest that is not the pinned one (checksum mismatch) is refused and nothing is written", async () => {
    const tampered = FLANNEL_MANIFEST.replace("10.244.0.0/16", "10.99.0.0/16");
    const { r, s } = await run(fam, "airgap", { routes: flannelRelease(tampered) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`checksum mismatch for http://127\\.0\\.0\\.1:\\d+/flannel/${FLANNEL_VERSION}/kube-flannel\\.yml: got ${sha256Hex(tampered)}, expected ${sha256Hex(FLANNEL_MANIFEST)}`));
    expectUntouched(s);
  });

  it.skipIf(!canRun(fam))("a missing release fails the step", async () => {
    const { r, s } = await run(fam, "airgap", { routes: {} });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`download failed: ${server!.url}/flannel/${FLANNEL_VERSION}/kube-flannel.yml`);
    expectUntouched(s);
  });

  it.skipIf(!canRun(fam))("pinned images that are not the manifest's are refused (the pins and the manifest move together)", async () => {
    const { r, s } = await run(fam, "airgap", { env: { CNI_IMAGES: "ghcr.io/flannel-io/flannel:v0.28.8 ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`kube-flannel.yml ${FLANNEL_VERSION} names the images '${FLANNEL_IMAGES.join(" ")}', not CNI_IMAGES 'ghcr.io/flannel-io/flannel:v0.28.8 ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3'`);
    expectUntouched(s);
  });

  it.skipIf(!canRun(fam))("a pod CIDR that is not the manifest's Network is refused", async () => {
    const { r, s } = await run(fam, "airgap", { env: { POD_CIDR: "10.42.0.0/16" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`kube-flannel.yml ${FLANNEL_VERSION} sets the pod network '10.244.0.0/16', not POD_CIDR 10.42.0.0/16`);
    expectUntouched(s);
  });

  it.skipIf(!canRun(fam))("a /opt/cni/bin the user made is left as it is, and the step fails saying why", async () => {
    const { r, s } = await run(fam, "airgap", { files: { "/opt/cni/bin/my-plugin": "mine\n" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`/opt/cni/bin already exists (not made by homelab): flannel's plugin would land there, but containerd looks in ${CNI_DIR[fam.family]}`);
    expect(s.read("/opt/cni/bin/my-plugin")).toBe("mine\n");
    expect(s.exists(RECORD)).toBe(false);
    expect(server!.requests).toEqual([]);
  });

  it.skipIf(!canRun(fam)).each([
    [{ CNI: "calico" }, "CNI 'calico' must be flannel"],
    [{ CNI_VERSION: "latest" }, "CNI_VERSION 'latest' is not a flannel release"],
    [{ CNI_MANIFEST_SHA256: "ABC" }, "CNI_MANIFEST_SHA256 'ABC' is not a sha256"],
    [{ CNI_IMAGES: "" }, "CNI_IMAGES is not set"],
    [{ CNI_IMAGES: "ghcr.io/flannel-io/flannel:$(reboot)" }, "CNI_IMAGES entry 'ghcr.io/flannel-io/flannel:$(reboot)' is not an image reference"],
    [{ CNI_IMAGES: "ghcr.io/*" }, "CNI_IMAGES entry 'ghcr.io/*' is not an image reference"],
    [{ POD_CIDR: "10.244.0.0" }, "POD_CIDR '10.244.0.0' is not an IPv4 CIDR"],
    [{ K8S_BAKE: "none" }, "K8S_BAKE 'none' must be airgap or binary"],
    [{ CNI_DOWNLOAD_URL: "file:///etc" }, "CNI_DOWNLOAD_URL 'file:///etc' is not an http(s) URL"],
  ])("rejects %j before touching the system", async (bad, message) => {
    const { r, s } = await run(fam, "airgap", { env: bad });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(s.calls()).toEqual([]);
    expect(server!.requests).toEqual([]);
    expectUntouched(s);
  });
});
