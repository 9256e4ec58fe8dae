import { describe, expect, it } from "vitest";
import { defaultContributors } from "../../src/contributors/index.js";
import { buildBundle } from "../../src/contributors/pipeline.js";
import { renderBundle } from "../../src/bundle/render-bundle.js";
import { config } from "../support/configs.js";
import { parseHcl } from "../support/hcl.js";
import { bundleStep, canRun, familySandbox } from "../support/shipped.js";
import { DEBIAN, FAMILIES } from "../support/shims.js";
import { FLANNEL } from "../../src/config/defaults.js";
import { serveFixtures, sha256Hex } from "../support/fixture-server.js";
import { FLANNEL_IMAGES, FLANNEL_MANIFEST, FLANNEL_VERSION, flannelRelease, NODE_PACKAGES, runtimeReleases } from "../scripts/fixtures.js";

const bundleFor = (yaml: string) => buildBundle(config(yaml), defaultContributors());
const k8sFiles = (files: Iterable<string>) => [...files].filter((f) => f.includes("k8s") || f.includes("kube") || f.includes("k3s"));

describe("Kubernetes node contributor (the design article's tests, as behaviour)", () => {
  it("adds nothing Kubernetes when the config has no k8s section", () => {
    const bundle = bundleFor("org: acme\n");
    expect(k8sFiles(bundle.files.keys())).toEqual([]);
    expect(bundle.steps().filter((s) => s.startsWith("k8s-") || s === "node-verify")).toEqual([]);
    const rendered = renderBundle(bundle);
    for (const [, file] of rendered.files) expect(String(file.content)).not.toMatch(/K8S_|K3S_|kubeadm/);
  });

  it("kubeadm adds the containerd and kubeadm steps and not k3s", () => {
    const bundle = bundleFor("k8s: {distribution: kubeadm}\n");
    expect(bundle.steps()).toEqual([
      "base-alpine",
      "k8s-kernel",
      "k8s-swap",
      "k8s-containerd",
      "k8s-kubeadm",
      "k8s-cni",
      "node-verify",
      // bake airgap (the default): Kubernetes is booted once, offline, before sysprep.
      "k8s-boot-check",
      "sysprep",
      "vagrant-box",
      "box-checksum",
    ]);
    expect(bundle.files.has("scripts/k8s-k3s.sh")).toBe(false);
  });

  it("k3s adds the k3s step and neither kubeadm nor a second container runtime", () => {
    const bundle = bundleFor("k8s: {distribution: k3s}\n");
    expect(bundle.steps()).toContain("k8s-k3s");
    expect(bundle.steps()).not.toContain("k8s-kubeadm");
    expect(bundle.steps()).not.toContain("k8s-containerd");
    expect(bundle.files.has("scripts/k8s-kubeadm.sh")).toBe(false);
  });

  it("bake: none prepares the node but installs no Kubernetes", () => {
    expect(bundleFor("k8s: {distribution: kubeadm, bake: none}\n").steps()).toEqual(
      expect.arrayContaining(["k8s-kernel", "k8s-swap", "k8s-containerd", "node-verify"]),
    );
    expect(bundleFor("k8s: {distribution: kubeadm, bake: none}\n").steps()).not.toContain("k8s-kubeadm");
  });

  it("the CNI step comes with kubeadm's flannel (the default) only: not with cni none, bake none or k3s", async () => {
    expect(bundleFor("k8s: {distribution: kubeadm, cni: none}\n").steps()).not.toContain("k8s-cni");
    expect(bundleFor("k8s: {distribution: kubeadm, bake: none, cni: flannel}\n").steps()).not.toContain("k8s-cni");
    expect(bundleFor("k8s: {distribution: k3s}\n").steps()).not.toContain("k8s-cni");
    for (const yaml of ["k8s: {distribution: kubeadm, cni: none}\n", "k8s: {distribution: kubeadm, bake: none}\n"]) {
      const vars = await parseHcl("v.hcl", String(renderBundle(bundleFor(yaml)).files.get("homelab.auto.pkrvars.hcl")!.content));
      expect(vars.cni, yaml).toBe("none");
      expect(vars.cni_manifest_sha256, yaml).toBeUndefined();
      const { env } = await bundleStep(renderBundle(bundleFor(yaml)).files, "node-verify");
      expect(env, yaml).toMatchObject({ K8S_DISTRIBUTION: "kubeadm", CNI: "none" });
      expect(env.CNI_MANIFEST_SHA256, yaml).toBeUndefined();
    }
    // node-verify checks what the CNI step baked, against the same pin.
    const { env } = await bundleStep(renderBundle(bundleFor("k8s: {distribution: kubeadm}\n")).files, "node-verify");
    expect(env).toMatchObject({ CNI: "flannel", CNI_MANIFEST_SHA256: FLANNEL.manifestSha256 });
  });

  for (const fam of FAMILIES) {
    it.skipIf(!canRun(fam))(`k8s-cni (${fam.family}), run as Packer runs it with the bundle's own pins: refuses a manifest that is not the pinned release, and takes the recorded one when only the checksum is the fixture's`, async () => {
      const rendered = renderBundle(bundleFor(`${fam.family === "debian" ? "debian: {}\n" : ""}k8s: {distribution: kubeadm, bake: binary}\n`));
      const { script, env } = await bundleStep(rendered.files, "k8s-cni");
      expect(env).toEqual({
        CNI: "flannel", CNI_VERSION: FLANNEL_VERSION, CNI_MANIFEST_SHA256: FLANNEL.manifestSha256,
        CNI_IMAGES: FLANNEL_IMAGES.join(" "), POD_CIDR: "10.244.0.0/16", K8S_BAKE: "binary",
      });
      const server = await serveFixtures(flannelRelease());
      const sb = await familySandbox(fam);
      try {
        // The fixture is not byte-for-byte the release: the real pin refuses it.
        const pinned = await sb.run(script, { ...env, CNI_DOWNLOAD_URL: `${server.url}/flannel` });
        expect(pinned.code).toBe(1);
        expect(pinned.stderr).toContain(`expected ${FLANNEL.manifestSha256}`);
        // The bundle's image and pod CIDR pins are the ones the (recorded) release manifest names.
        const r = await sb.run(script, { ...env, CNI_DOWNLOAD_URL: `${server.url}/flannel`, CNI_MANIFEST_SHA256: sha256Hex(FLANNEL_MANIFEST) });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(sb.read("/etc/homelab/cni/pod-cidr")).toBe(`${FLANNEL.podCidr}\n`);
      } finally {
        sb.dispose();
        await server.close();
      }
    });

    it.skipIf(!canRun(fam))(`k3s with bake none (${fam.family}): the bundle's k3s step, run as Packer runs it, prepares the host and installs nothing`, async () => {
      const rendered = renderBundle(bundleFor(`${fam.family === "debian" ? "debian: {}\n" : ""}k8s: {distribution: k3s, bake: none}\n`));
      const { script, env } = await bundleStep(rendered.files, "k8s-k3s");
      expect(env).toMatchObject({ K8S_BAKE: "none", ARCH: "x86_64" });
      const sb = await familySandbox(fam, { "/sys/fs/cgroup/cgroup.controllers": "cpu memory pids\n" });
      try {
        // No K3S_DOWNLOAD_URL override: a download attempt would fail without the internet.
        const r = await sb.run(script, env);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toContain("bake none: host prepared; k3s is installed at provisioning time");
        expect(sb.exists("/usr/local/bin/k3s")).toBe(false);
        expect(sb.calls().filter((c) => !c.startsWith("rc-update add cgroups"))).toEqual([]);
      } finally {
        sb.dispose();
      }
    });
  }

  it.each(["kubeadm", "k3s"])("the vagrant box file name carries the distribution (%s)", async (distribution) => {
    const rendered = renderBundle(bundleFor(`k8s: {distribution: ${distribution}}\n`));
    const build = await parseHcl("build.pkr.hcl", String(rendered.files.get("build.pkr.hcl")!.content));
    const vagrant = (build.build as any[])[0]["post-processors"][0]["post-processor"].vagrant[0];
    expect(vagrant.output).toBe(`\${var.output_dir}/alpine-3.24-k8snode-${distribution}-{{ .Provider }}.box`);
  });

  it("passes the pinned versions to the scripts through environment variables only", async () => {
    const bundle = bundleFor("k8s: {distribution: kubeadm, version: v1.35.9}\n");
    const rendered = renderBundle(bundle);
    const vars = await parseHcl("v.hcl", String(rendered.files.get("homelab.auto.pkrvars.hcl")!.content));
    expect(vars).toMatchObject({ k8s_version: "v1.35.9", pause_image: "registry.k8s.io/pause:3.10.1", k8s_bake: "airgap" });
    const build = await parseHcl("b.hcl", String(rendered.files.get("build.pkr.hcl")!.content));
    const shells = (build.build as any[])[0].provisioner.shell as any[];
    const kubeadm = shells.find((p) => p.scripts[0] === "scripts/k8s-kubeadm.sh");
    expect(kubeadm.environment_vars).toEqual([
      "K8S_VERSION=${var.k8s_version}",
      "K8S_BAKE=${var.k8s_bake}",
      "PAUSE_IMAGE=${var.pause_image}",
      "ARCH=${var.arch}",
    ]);
    // The scripts are shipped verbatim: no config value is spliced into them.
    for (const [path, file] of rendered.files) {
      if (path.startsWith("scripts/")) expect(String(file.content)).not.toContain("v1.35.9");
    }
  });

  it.skipIf(!canRun(DEBIAN))("Debian kubeadm: the pinned containerd and runc reach the bundle's k8s-containerd step, which installs them from the configured URLs", async () => {
    const release = runtimeReleases(DEBIAN, "2.2.7", "1.3.6", "amd64");
    const server = await serveFixtures(release.routes);
    const sb = await familySandbox(DEBIAN, NODE_PACKAGES.debian);
    try {
      const yaml = [
        "debian: {}",
        "k8s:",
        "  distribution: kubeadm",
        "  version: v1.35.1",
        `  containerd: {version: 2.2.7, sha256: "sha256:${release.sha256.containerd}", url: "${server.url}/containerd"}`,
        `  runc: {version: 1.3.6, sha256: "sha256:${release.sha256.runc}", url: "${server.url}/runc"}`,
        "",
      ].join("\n");
      const rendered = renderBundle(bundleFor(yaml));
      const { script, env } = await bundleStep(rendered.files, "k8s-containerd");
      expect(env).toEqual({
        PAUSE_IMAGE: "registry.k8s.io/pause:3.10.1",
        ARCH: "x86_64",
        CONTAINERD_VERSION: "2.2.7",
        CONTAINERD_SHA256: release.sha256.containerd,
        CONTAINERD_DOWNLOAD_URL: `${server.url}/containerd`,
        RUNC_VERSION: "1.3.6",
        RUNC_SHA256: release.sha256.runc,
        RUNC_DOWNLOAD_URL: `${server.url}/runc`,
      });
      sb.write("/.shim/containerd-version", "containerd github.com/containerd/containerd/v2 v2.2.7 abc\n");
      sb.write("/.shim/runc-version", "runc version 1.3.6\n");
      const r = await sb.run(script, env);
      expect(r.code, r.stderr).toBe(0);
      expect(server.requests).toEqual(["/containerd/v2.2.7/containerd-2.2.7-linux-amd64.tar.gz", "/runc/v1.3.6/runc.amd64"]);
      // node-verify checks the same pins.
      expect((await bundleStep(rendered.files, "node-verify")).env).toMatchObject({ CONTAINERD_VERSION: "2.2.7", RUNC_VERSION: "1.3.6" });
    } finally {
      sb.dispose();
      await server.close();
    }
  });

  it("Alpine and k3s nodes get no runtime pins (their containerd is packaged or embedded)", async () => {
    for (const yaml of ["k8s: {distribution: kubeadm}\n", "debian: {}\nk8s: {distribution: k3s}\n"]) {
      const vars = await parseHcl("v.hcl", String(renderBundle(bundleFor(yaml)).files.get("homelab.auto.pkrvars.hcl")!.content));
      expect(Object.keys(vars).filter((k) => k.startsWith("containerd_") || k.startsWith("runc_"))).toEqual([]);
    }
  });

  it("the boot check: on with bake airgap, off with k8s.bootCheck: false or another bake", async () => {
    expect(bundleFor("k8s: {distribution: k3s}\n").steps()).toContain("k8s-boot-check");
    expect(bundleFor("k8s: {distribution: k3s, bootCheck: false}\n").steps()).not.toContain("k8s-boot-check");
    expect(bundleFor("k8s: {distribution: kubeadm, bake: binary}\n").steps()).not.toContain("k8s-boot-check");
    const rendered = renderBundle(bundleFor("debian: {}\nk8s: {distribution: kubeadm}\n"));
    expect((await bundleStep(rendered.files, "k8s-boot-check")).env).toEqual({ K8S_DISTRIBUTION: "kubeadm" });
  });
});
