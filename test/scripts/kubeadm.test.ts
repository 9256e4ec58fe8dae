import { readdirSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { type FixtureServer, serveFixtures, sha256Hex } from "../support/fixture-server.js";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { ALPINE, DEBIAN, type FamilyUserland, type Files } from "../support/shims.js";
import { CRICTL_VERSION, KUBEADM_135_IMAGES, kubernetesBinaries, kubernetesReleases, NODE_PACKAGES } from "./fixtures.js";

const VERSION = "v1.35.1";
const PAUSE = "registry.k8s.io/pause:3.10.1";
const SOCKET = "unix:///run/containerd/containerd.sock";

/** One specification of the k8s-kubeadm step; what the family installs and runs it with, as data. */
interface KubeadmCase {
  fam: FamilyUserland;
  /** A node after k8s-containerd: containerd enabled and running, the family's packages. */
  node: Files;
  /** The calls of an airgap run with the upstream binaries. */
  calls: string[];
  /** The binaries fetched from upstream (crictl: when the family packages none). */
  upstream: string[];
  /** The kubelet's service is in place, running the installed kubelet. */
  service(s: Sandbox): void;
  cgroupDriver: string;
}

const binaries = (fam: FamilyUserland) => kubernetesBinaries(fam, VERSION);

const CASES: KubeadmCase[] = [
  {
    fam: ALPINE,
    node: {
      ...NODE_PACKAGES.alpine,
      "/etc/init.d/containerd": { content: "#!/sbin/openrc-run\n", mode: 0o755 },
      "/.shim/active": "containerd\n",
      "/.shim/enabled": "cgroups\ncontainerd\n",
    },
    calls: [
      "apk policy kubeadm",
      // '!name' in apk's world: Alpine's own kubeadm/kubelet/kubectl may never replace the upstream binaries.
      "apk add !kubeadm !kubelet !kubectl kubelet-openrc cri-tools iptables iproute2 socat ethtool conntrack-tools",
      "kubeadm version -o short",
      "rc-update add kubelet default",
      `kubeadm config images list --kubernetes-version ${VERSION}`,
      `kubeadm config images pull --kubernetes-version ${VERSION} --cri-socket ${SOCKET}`,
    ],
    upstream: ["kubeadm", "kubelet", "kubectl"],
    // Alpine's init script (kubelet-openrc) runs /usr/bin/kubelet.
    service: (s) => expect(s.read("/etc/init.d/kubelet")).toContain('command="/usr/bin/kubelet"'),
    cgroupDriver: "cgroupfs",
  },
  {
    fam: DEBIAN,
    node: {
      "/usr/lib/systemd/system/containerd.service": "[Service]\n",
      "/.shim/enabled": "containerd.service\n",
      "/.shim/active": "containerd.service\n",
    },
    calls: [
      "apt-get update",
      "apt-get install -y --no-install-recommends curl ca-certificates iptables iproute2 socat ethtool conntrack tar gzip",
      "kubeadm version -o short",
      "systemctl daemon-reload",
      "systemctl enable kubelet",
      `kubeadm config images list --kubernetes-version ${VERSION}`,
      `kubeadm config images pull --kubernetes-version ${VERSION} --cri-socket ${SOCKET}`,
    ],
    upstream: ["kubeadm", "kubelet", "kubectl", "crictl"],
    service: (s) => {
      expect(s.read("/etc/systemd/system/kubelet.service")).toContain("ExecStart=/usr/bin/kubelet\n");
      const dropIn = s.read("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf");
      expect(dropIn).toContain("EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n");
      expect(dropIn).toContain('Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"\n');
      expect(dropIn).toContain("--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf");
      expect(dropIn).toMatch(/\nExecStart=\nExecStart=\/usr\/bin\/kubelet \$KUBELET_KUBECONFIG_ARGS \$KUBELET_CONFIG_ARGS \$KUBELET_KUBEADM_ARGS \$KUBELET_EXTRA_ARGS\n/);
    },
    cgroupDriver: "systemd",
  },
];

const releases = (fam: FamilyUserland, arch: string, opts: { sums?: Record<string, string>; version?: string } = {}) =>
  kubernetesReleases(fam, VERSION, arch, { ...(opts.sums ? { sums: opts.sums } : {}), ...(opts.version ? { reports: opts.version } : {}) });

const requested = (c: KubeadmCase, arch: string) =>
  c.upstream.flatMap((bin) => {
    const path = bin === "crictl" ? `/cri-tools/${CRICTL_VERSION}/crictl-${CRICTL_VERSION}-linux-${arch}.tar.gz` : `/release/${VERSION}/bin/linux/${arch}/${bin}`;
    return [path, `${path}.sha256`];
  });

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  await server?.close();
  server = undefined;
});

type Env = Record<string, string>;
async function run(c: KubeadmCase, routes: Record<string, string | Buffer>, bake: string, extra: Env | ((url: string) => Env) = {}) {
  server = await serveFixtures(routes);
  sb = await familySandbox(c.fam, c.node);
  const env = {
    K8S_VERSION: VERSION, K8S_BAKE: bake, PAUSE_IMAGE: PAUSE, ARCH: "x86_64", K8S_DOWNLOAD_URL: `${server.url}/release`, CRICTL_DOWNLOAD_URL: `${server.url}/cri-tools`,
    ...(typeof extra === "function" ? extra(server.url) : extra),
  };
  return { r: await sb.run(shippedScript(c.fam.family, "k8s-kubeadm"), env), s: sb };
}

describe.each(CASES)("k8s-kubeadm on $fam.family", (c) => {
  it.skipIf(!canRun(c.fam))("airgap: upstream binaries verified then installed, kubelet service, kubeadm config, enabled not started, images recorded", async () => {
    const { r, s } = await run(c, releases(c.fam, "amd64"), "airgap");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(s.calls()).toEqual(c.calls);
    expect(server!.requests).toEqual(requested(c, "amd64"));
    const bins = binaries(c.fam);
    for (const bin of ["kubeadm", "kubelet", "kubectl", "crictl"] as const) {
      expect(s.read(`/usr/bin/${bin}`)).toBe(bins[bin]);
      expect(s.mode(`/usr/bin/${bin}`)).toBe(0o755);
    }
    c.service(s);
    const kubeadmConfig = s.read("/etc/kubernetes/kubeadm-config.yaml");
    expect(kubeadmConfig).toContain(`apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  criSocket: ${SOCKET}\n`);
    expect(kubeadmConfig).toContain(`kind: ClusterConfiguration\nkubernetesVersion: ${VERSION}\n`);
    expect(kubeadmConfig).toMatch(new RegExp(`apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: ${c.cgroupDriver}\n$`));
    expect(s.read("/etc/crictl.yaml")).toBe(`runtime-endpoint: ${SOCKET}\nimage-endpoint: ${SOCKET}\ntimeout: 10\n`);
    expect(s.read("/etc/kubernetes-version")).toBe(`${VERSION}\n`);
    expect(s.read("/.shim/enabled").split("\n")).toContain(c.fam.unit("kubelet"));
    expect(s.read("/.shim/active")).toBe(`${c.fam.unit("containerd")}\n`); // the kubelet was not started
    expect(s.read("/etc/homelab/kubeadm-images.txt")).toBe(`${[...KUBEADM_135_IMAGES].sort().join("\n")}\n`);
    expect(readdirSync(s.path("/var/tmp"))).toEqual([]);
  });

  it.skipIf(!canRun(c.fam))("binary on aarch64: the arm64 downloads (a trailing / in the URL is fine), no image pull and no image list", async () => {
    const { r, s } = await run(c, releases(c.fam, "arm64"), "binary", (url) => ({ ARCH: "aarch64", K8S_DOWNLOAD_URL: `${url}/release/` }));
    expect(r.code).toBe(0);
    expect(server!.requests).toEqual(requested(c, "arm64"));
    expect(s.callsOf("kubeadm")).toEqual(["kubeadm version -o short"]);
    expect(s.exists("/etc/homelab/kubeadm-images.txt")).toBe(false);
  });

  it.skipIf(!canRun(c.fam)).each(c.upstream.map((bin) => [bin]))("a wrong %s checksum installs nothing and enables nothing", async (bin) => {
    const { r, s } = await run(c, releases(c.fam, "amd64", { sums: { [bin]: "0".repeat(64) } }), "airgap");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`checksum mismatch for http://127\\.0\\.0\\.1:\\d+/.*${bin}[^:]*: got [0-9a-f]{64}, expected 0{64}`));
    for (const b of ["kubeadm", "kubelet", "kubectl"]) expect(s.exists(`/usr/bin/${b}`)).toBe(false);
    expect(s.calls().filter((l) => /^(rc-update|systemctl) /.test(l))).toEqual([]);
    expect(readdirSync(s.path("/var/tmp"))).toEqual([]);
  });

  it.skipIf(!canRun(c.fam))("pulls the pinned pause image too when kubeadm expects another one, and records it", async () => {
    const { r, s } = await run(c, releases(c.fam, "amd64"), "airgap", { PAUSE_IMAGE: "registry.k8s.io/pause:3.9" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("WARNING: PAUSE_IMAGE registry.k8s.io/pause:3.9 is not kubeadm's pause image");
    expect(s.callsOf("crictl")).toEqual(["crictl pull registry.k8s.io/pause:3.9"]);
    expect(s.read("/etc/homelab/kubeadm-images.txt").split("\n")).toContain("registry.k8s.io/pause:3.9");
  });

  it.skipIf(!canRun(c.fam))("fails when the installed kubeadm is not the pinned version", async () => {
    const { r } = await run(c, releases(c.fam, "amd64", { version: "v1.35.0" }), "binary");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`installed kubeadm is v1.35.0, expected ${VERSION}`);
  });

  it.skipIf(!canRun(c.fam)).each([
    [{ K8S_VERSION: "1.35.1" }, "K8S_VERSION '1.35.1' is not a Kubernetes version"],
    [{ K8S_BAKE: "none" }, "K8S_BAKE 'none' must be airgap or binary"],
    [{ ARCH: "riscv64" }, "ARCH 'riscv64' must be x86_64 or aarch64"],
    [{ K8S_DOWNLOAD_URL: "ftp://mirror/x" }, "K8S_DOWNLOAD_URL 'ftp://mirror/x' is not an http(s) URL"],
    [{ K8S_DOWNLOAD_URL: "https://x/$(reboot)" }, "K8S_DOWNLOAD_URL 'https://x/$(reboot)' is not an http(s) URL"],
    [{ CRICTL_DOWNLOAD_URL: "file:///etc" }, "CRICTL_DOWNLOAD_URL 'file:///etc' is not an http(s) URL"],
    [{ CRICTL_VERSION: "latest" }, "CRICTL_VERSION 'latest' is not a cri-tools version"],
  ])("rejects %j before touching the system", async (bad, message) => {
    const { r, s } = await run(c, {}, "binary", bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(s.calls()).toEqual([]);
  });
});

describe.skipIf(!canRun(ALPINE))("k8s-kubeadm, Alpine's part: the community repository", () => {
  it("with the upstream binaries, kubelet-openrc's service can start: its log directory is there (only the kubelet package would make it)", async () => {
    const { r, s } = await run(CASES[0]!, releases(ALPINE, "amd64"), "binary");
    expect(r.code).toBe(0);
    expect((await s.exec(["rc-service", "kubelet", "start"])).code).toBe(0);
    await s.exec(["rc-service", "kubelet", "stop"]);
    await s.exec(["/bb/rmdir", "/var/log/kubelet"]);
    const missing = await s.exec(["rc-service", "kubelet", "start"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("supervise-daemon: /var/log/kubelet/kubelet.log: No such file or directory");
  });

  it("with the upstream binaries, apk refuses to install Alpine's kubelet, kubeadm or kubectl over them later", async () => {
    const alpine = CASES[0]!;
    const node = { ...alpine.node, "/.shim/pkgs/kubelet/usr/bin/kubelet": { content: "#!/bb/sh\necho alpine kubelet\n", mode: 0o755 } };
    const { r, s } = await run({ ...alpine, node }, releases(ALPINE, "amd64"), "binary");
    expect(r.code).toBe(0);
    for (const pkg of ["kubelet", "kubeadm", "kubectl"]) {
      const add = await s.exec(["apk", "add", pkg]);
      expect(add.code).not.toBe(0);
      expect(add.stderr).toContain(`conflicts: world[!${pkg}]`);
    }
    expect(s.read("/usr/bin/kubelet")).toBe(binaries(ALPINE).kubelet);
  });

  it("installs from the repository when it carries exactly the pinned version (fuzzy pins), downloading nothing", async () => {
    const alpine = CASES[0]!;
    const bins = binaries(ALPINE);
    const node = {
      ...alpine.node,
      "/.shim/apk-policy/kubeadm": "1.35.1-r2\n",
      "/.shim/pkgs/kubeadm/usr/bin/kubeadm": { content: bins.kubeadm, mode: 0o755 },
      "/.shim/pkgs/kubelet/usr/bin/kubelet": { content: bins.kubelet, mode: 0o755 },
      "/.shim/pkgs/kubectl/usr/bin/kubectl": { content: bins.kubectl, mode: 0o755 },
    };
    const { r, s } = await run({ ...alpine, node }, releases(ALPINE, "amd64"), "airgap");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(s.calls().slice(0, 3)).toEqual(["apk policy kubeadm", "apk add kubeadm~=1.35 kubelet~=1.35 kubectl~=1.35 kubelet-openrc~=1.35 cri-tools", "kubeadm version -o short"]);
    expect(server!.requests).toEqual([]);
    expect(s.read("/usr/bin/kubelet")).toBe(bins.kubelet);
  });
});
