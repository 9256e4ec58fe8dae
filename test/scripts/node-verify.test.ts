import { afterEach, describe, expect, it } from "vitest";
import { type FixtureServer, serveFixtures, sha256Hex } from "../support/fixture-server.js";
import type { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox, shippedScript } from "../support/shipped.js";
import { ALPINE, DEBIAN, fakeK3s, MOUNTINFO, type FamilyUserland } from "../support/shims.js";
import { cniEnv, FLANNEL_IMAGES, FLANNEL_MANIFEST, flannelRelease, KUBEADM_135_IMAGES, kubernetesReleases, NODE_PACKAGES, runtimeReleases } from "./fixtures.js";

const PAUSE = "registry.k8s.io/pause:3.10.1";
const K8S = "v1.35.1";
const K3S = "v1.31.4+k3s1";
/** The runtime releases the Debian node installs (what the shims' `containerd`/`runc --version` print). */
const CONTAINERD = "2.3.4";
const RUNC = "1.4.3";

/** What every node passes: the promises of k8s-kernel and k8s-swap. */
const KERNEL_OK = [
  "ok   module overlay loaded", "ok   module overlay loaded at boot", "ok   module br_netfilter loaded", "ok   module br_netfilter loaded at boot",
  "ok   sysctl net.bridge.bridge-nf-call-iptables", "ok   sysctl net.bridge.bridge-nf-call-ip6tables", "ok   sysctl net.ipv4.ip_forward",
  "ok   sysctl fs.inotify.max_user_instances", "ok   sysctl fs.inotify.max_user_watches", "ok   sysctls applied at boot",
  "ok   no active swap", "ok   no swap in /etc/fstab", "ok   no active swap units", "ok   root mount shared", "ok   root mount shared at boot",
  // The kubelet >= 1.35 refuses cgroup v1.
  "ok   cgroup v2",
  // Vagrant's default synced folder on vagrant-libvirt, without a network.
  "ok   rsync installed",
];

/** What a kubeadm node with flannel baked passes after its other checks. */
const cniOk = (cniDir: string) => [
  "ok   CNI manifest checksum", "ok   CNI manifest checksum recorded", "ok   CNI image list", "ok   pod network CIDR recorded",
  "ok   flannel plugin directory /opt/cni/bin", `ok   CNI plugins flannel chains in ${cniDir}`,
];

/** One specification of node-verify; each family's own checks (its containerd, kubelet service, k3s host) as data. */
interface VerifyCase {
  fam: FamilyUserland;
  containerd: string[];
  kubeletService: string[];
  k3sHost: string[];
  /** The verdict on a containerd whose cgroup driver did not take. */
  wrongDriver: string;
  /** The FAIL line of a k3s node with a system containerd enabled. */
  systemContainerd: string;
}

const CASES: VerifyCase[] = [
  {
    fam: ALPINE,
    containerd: ["ok   containerd cgroup driver cgroupfs", "ok   containerd sandbox image", "ok   containerd CNI dir", "ok   CNI plugins in /usr/libexec/cni"],
    // kubelet-openrc's init script, and the log directory supervise-daemon opens its output_log in.
    kubeletService: ["ok   kubelet init script", "ok   kubelet log directory /var/log/kubelet"],
    k3sHost: ["ok   cgroups service enabled"],
    wrongDriver: "FAIL containerd cgroup driver cgroupfs: found 'true', expected 'false'",
    systemContainerd: "FAIL no system containerd enabled: containerd is enabled at boot",
  },
  {
    fam: DEBIAN,
    containerd: [
      "ok   containerd version", "ok   runc version", "ok   containerd config version", "ok   containerd cgroup driver systemd", "ok   containerd runc runtime type", "ok   containerd sandbox image", "ok   containerd CNI dir",
      "ok   containerd CNI config dir", "ok   CNI plugins in /usr/lib/cni",
    ],
    kubeletService: ["ok   kubelet kubeadm drop-in"],
    k3sHost: ["ok   cgroup v2 controller cpu", "ok   cgroup v2 controller memory", "ok   cgroup v2 controller pids"],
    wrongDriver: "FAIL containerd cgroup driver systemd: found 'false', expected 'true'",
    systemContainerd: "FAIL no system containerd enabled: containerd is enabled at boot",
  },
];

let sb: Sandbox | undefined;
let server: FixtureServer | undefined;
afterEach(async () => {
  sb?.dispose();
  await server?.close();
  server = undefined;
});

/**
 * A node prepared by the REAL steps of the family's bundle in one sandbox (kernel, swap, then
 * containerd and kubeadm, or k3s, from a local release server), so node-verify checks exactly the
 * state those steps leave. It starts with swap on and the init system's default root propagation.
 */
async function preparedNode(
  fam: FamilyUserland,
  distribution: "kubeadm" | "k3s" | "none",
  bake: string,
  cni: "flannel" | "none" = distribution === "kubeadm" && bake !== "none" ? "flannel" : "none",
): Promise<Sandbox> {
  const runtime = runtimeReleases(fam, CONTAINERD, RUNC, "amd64");
  server = await serveFixtures({
    ...kubernetesReleases(fam, K8S, "amd64"),
    ...flannelRelease(),
    ...runtime.routes,
    [`/k3s/v1.31.4%2Bk3s1/sha256sum-amd64.txt`]: `${sha256Hex(fakeK3s(fam, K3S))}  k3s\n`,
    [`/k3s/v1.31.4%2Bk3s1/k3s`]: fakeK3s(fam, K3S),
  });
  sb = await familySandbox(fam, {
    ...NODE_PACKAGES[fam.family],
    "/etc/fstab": "LABEL=root / ext4 defaults 0 1\n/dev/vda5 none swap sw 0 0\n",
    "/proc/swaps": "Filename\tType\tSize\tUsed\tPriority\n/dev/vda5 partition 998396 0 -2\n",
    "/.shim/swap-units": "dev-vda5.swap\n",
    "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
    // The base step installs it (base.test.ts).
    "/usr/bin/rsync": { content: `#!${fam.bin}/sh\n`, mode: 0o755 },
  });
  const kubeadm = ["k8s-containerd", ...(bake === "none" ? [] : ["k8s-kubeadm"]), ...(cni === "flannel" ? ["k8s-cni"] : [])];
  const steps = ["k8s-kernel", "k8s-swap", ...(distribution === "kubeadm" ? kubeadm : distribution === "k3s" ? ["k8s-k3s"] : [])];
  const env = {
    ...cniEnv(server.url, bake),
    PAUSE_IMAGE: PAUSE, K8S_VERSION: K8S, K3S_VERSION: K3S, K8S_BAKE: bake, ARCH: "x86_64",
    K8S_DOWNLOAD_URL: `${server.url}/release`, CRICTL_DOWNLOAD_URL: `${server.url}/cri-tools`, K3S_DOWNLOAD_URL: `${server.url}/k3s`,
    // Debian's k8s-containerd installs the pinned releases (Alpine's ignores these).
    CONTAINERD_VERSION: CONTAINERD, CONTAINERD_SHA256: runtime.sha256.containerd, CONTAINERD_DOWNLOAD_URL: `${server.url}/containerd`,
    RUNC_VERSION: RUNC, RUNC_SHA256: runtime.sha256.runc, RUNC_DOWNLOAD_URL: `${server.url}/runc`,
  };
  for (const step of steps) {
    const r = await sb.run(shippedScript(fam.family, step), env);
    expect(r.code, `${step}: ${r.stderr}`).toBe(0);
  }
  sb.clearCalls();
  return sb;
}

const verify = (s: Sandbox, fam: FamilyUserland, env: Record<string, string>) =>
  s.run(shippedScript(fam.family, "node-verify"), {
    ARCH: "x86_64", PAUSE_IMAGE: PAUSE, K8S_VERSION: K8S, K3S_VERSION: K3S, CONTAINERD_VERSION: CONTAINERD, RUNC_VERSION: RUNC,
    CNI: "none", CNI_MANIFEST_SHA256: sha256Hex(FLANNEL_MANIFEST), ...env,
  });
const verdicts = (out: string) => out.split("\n").filter((l) => /^(ok  |FAIL)/.test(l));
const failures = (out: string) => verdicts(out).filter((l) => l.startsWith("FAIL"));

describe.each(CASES)("node-verify on $fam.family", (c) => {
  const SERVICE_OK = ["ok   containerd service enabled", "ok   containerd service running"];

  it.skipIf(!canRun(c.fam))("kubeadm, bake none (the e2e path): every check passes after the real kernel, swap and containerd steps", async () => {
    const s = await preparedNode(c.fam, "kubeadm", "none");
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "none" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(verdicts(r.stdout)).toEqual([...KERNEL_OK, ...SERVICE_OK, ...c.containerd]);
    expect(r.stdout).toMatch(/node-verify: all checks passed\n$/);
  });

  const cniDir = c.containerd.at(-1)!.replace("ok   CNI plugins in ", "");
  const KUBEADM_OK = [
    "ok   kubelet service enabled", "ok   kubelet service not started", ...c.kubeletService, "ok   kubeadm version", "ok   /etc/kubernetes-version",
    `ok   kubelet cgroup driver ${c.containerd.find((l) => l.includes("cgroup driver"))!.split(" ").pop()} for kubeadm`, "ok   /etc/crictl.yaml", "ok   crictl installed",
  ];

  it.skipIf(!canRun(c.fam))("kubeadm airgap after the real kubeadm and CNI steps: kubelet enabled not started, its service, version, configs, exactly the recorded images, flannel", async () => {
    const s = await preparedNode(c.fam, "kubeadm", "airgap");
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "airgap", CNI: "flannel" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(verdicts(r.stdout).slice(KERNEL_OK.length + SERVICE_OK.length + c.containerd.length)).toEqual([
      // The control-plane images and flannel's two.
      ...KUBEADM_OK, "ok   pre-pulled images are exactly 9 expected", ...cniOk(cniDir),
    ]);
  });

  it.skipIf(!canRun(c.fam))("kubeadm airgap with cni none: no CNI checks, exactly the control-plane images", async () => {
    const s = await preparedNode(c.fam, "kubeadm", "airgap", "none");
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "airgap", CNI: "none" });
    expect(r.code).toBe(0);
    expect(verdicts(r.stdout).slice(KERNEL_OK.length + SERVICE_OK.length + c.containerd.length)).toEqual([...KUBEADM_OK, "ok   pre-pulled images are exactly 7 expected"]);
  });

  it.skipIf(!canRun(c.fam))("flannel: a missing image, a changed manifest, another pod CIDR, no plugin link and a missing chained plugin each fail", async () => {
    const s = await preparedNode(c.fam, "kubeadm", "airgap");
    s.write("/.shim/images", `${[...KUBEADM_135_IMAGES, FLANNEL_IMAGES[0]].join("\n")}\n`);
    const manifest = "/etc/homelab/cni/kube-flannel.yml";
    s.write(manifest, s.read(manifest).replace("--ip-masq", "--iface=eth9"));
    s.write("/etc/homelab/cni/pod-cidr", "10.42.0.0/16\n");
    await s.exec([`${c.fam.bin}/rm`, "/opt/cni/bin", `${cniDir}/portmap`]);
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "airgap", CNI: "flannel" });
    expect(r.code).toBe(1);
    const changed = sha256Hex(FLANNEL_MANIFEST.replace("--ip-masq", "--iface=eth9"));
    expect(failures(r.stdout)).toEqual([
      `FAIL pre-pulled images: missing: ${FLANNEL_IMAGES[1]} ; unexpected: none`,
      `FAIL CNI manifest checksum: found '${changed}', expected '${sha256Hex(FLANNEL_MANIFEST)}'`,
      "FAIL pod network CIDR recorded: found '10.42.0.0/16', expected '10.244.0.0/16'",
      `FAIL flannel plugin directory /opt/cni/bin: found 'not a link', expected '${cniDir}'`,
      `FAIL CNI plugins flannel chains in ${cniDir}: missing: portmap`,
    ]);
  });

  it.skipIf(!canRun(c.fam))("flannel: a manifest record that is not the pinned checksum fails, and so does a missing manifest", async () => {
    const s = await preparedNode(c.fam, "kubeadm", "binary");
    const other = "0".repeat(64);
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "binary", CNI: "flannel", CNI_MANIFEST_SHA256: other });
    expect(failures(r.stdout)).toEqual([
      `FAIL CNI manifest checksum: found '${sha256Hex(FLANNEL_MANIFEST)}', expected '${other}'`,
      `FAIL CNI manifest checksum recorded: found '${sha256Hex(FLANNEL_MANIFEST)}', expected '${other}'`,
    ]);
    await s.exec([`${c.fam.bin}/rm`, "/etc/homelab/cni/kube-flannel.yml"]);
    const gone = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "binary", CNI: "flannel" });
    expect(gone.code).toBe(1);
    expect(failures(gone.stdout)).toEqual(["FAIL CNI manifest: /etc/homelab/cni/kube-flannel.yml is missing"]);
  });

  it.skipIf(!canRun(c.fam))("flannel airgap without its recorded image list: the pulled flannel images are unexpected", async () => {
    const s = await preparedNode(c.fam, "kubeadm", "airgap");
    await s.exec([`${c.fam.bin}/rm`, "/etc/homelab/cni/images.txt"]);
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "airgap", CNI: "flannel" });
    expect(r.code).toBe(1);
    expect(failures(r.stdout)).toEqual([
      "FAIL pre-pulled CNI images: /etc/homelab/cni/images.txt is missing or empty",
      `FAIL pre-pulled images: missing: none; unexpected: ${FLANNEL_IMAGES.join(" ")} `,
      `FAIL CNI image list: found '', expected '${FLANNEL_IMAGES.join(" ")} '`,
    ]);
  });

  it.skipIf(!canRun(c.fam))("fails a node without rsync, and refuses an unknown CNI", async () => {
    const s = await preparedNode(c.fam, "kubeadm", "none");
    await s.exec([`${c.fam.bin}/rm`, "/usr/bin/rsync"]);
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "none" });
    expect(r.code).toBe(1);
    expect(failures(r.stdout)).toEqual(["FAIL rsync installed: no rsync on PATH (Vagrant's default synced folder needs it)"]);
    const bad = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "none", CNI: "calico" });
    expect(failures(bad.stdout)).toContain("FAIL environment: CNI 'calico' is not flannel or none");
  });

  it.skipIf(!canRun(c.fam))("reports every failure, not just the first, and exits 1", async () => {
    const s = await preparedNode(c.fam, "kubeadm", "airgap");
    s.write("/.shim/images", `${[...KUBEADM_135_IMAGES.slice(1), ...FLANNEL_IMAGES].join("\n")}\n`);
    s.write("/.shim/dump.sed", c.fam.family === "alpine" ? "s/SystemdCgroup = false/SystemdCgroup = true/\n" : "s/SystemdCgroup = true/SystemdCgroup = false/\n");
    s.write("/proc/self/mountinfo", MOUNTINFO.private);
    s.write("/proc/sys/net/ipv4/ip_forward", "0\n");
    s.write("/etc/sysctl.d/99-k8s.conf", s.read("/etc/sysctl.d/99-k8s.conf").replace("fs.inotify.max_user_watches = 524288\n", ""));
    s.write("/etc/fstab", "/swapfile none swap sw 0 0\n");
    s.write("/.shim/active", `${c.fam.unit("containerd")}\n${c.fam.unit("kubelet")}\n`);
    s.write("/usr/bin/crictl", { content: "not executable", mode: 0o644 });
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "airgap", CNI: "flannel" });
    expect(r.code).toBe(1);
    expect(failures(r.stdout)).toEqual([
      "FAIL sysctl net.ipv4.ip_forward: found '0', expected '1'",
      "FAIL sysctls applied at boot: /etc/sysctl.d/99-k8s.conf does not set: fs.inotify.max_user_watches",
      "FAIL no swap in /etc/fstab: entries: /swapfile ",
      "FAIL root mount shared: / is private in /proc/self/mountinfo",
      c.wrongDriver,
      "FAIL kubelet service not started: kubelet is running (it must start only at provisioning)",
      "FAIL crictl installed: /usr/bin/crictl is missing",
      `FAIL pre-pulled images: missing: ${KUBEADM_135_IMAGES[0]} ; unexpected: none`,
    ]);
    expect(r.stderr).toBe("node-verify: 8 check(s) failed\n");
  });

  it.skipIf(!canRun(c.fam))("k3s binary after the real k3s step: the host, checksum, version, k3s enabled not started, no system containerd", async () => {
    const s = await preparedNode(c.fam, "k3s", "binary");
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "k3s", K8S_BAKE: "binary" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(verdicts(r.stdout).slice(KERNEL_OK.length)).toEqual([
      ...c.k3sHost, "ok   no system containerd enabled", "ok   k3s binary checksum", `ok   k3s version ${K3S}`, "ok   k3s service enabled", "ok   k3s service not started",
      "ok   k3s waits for its role",
    ]);
  });

  it.skipIf(!canRun(c.fam))("k3s fails when the image would start k3s with a role of its own (every clone a server of the same name)", async () => {
    const s = await preparedNode(c.fam, "k3s", "binary");
    const settings = c.fam.family === "alpine" ? "/etc/conf.d/k3s" : "/etc/default/k3s";
    s.write(settings, s.read(settings).replace(/^K3S_EXEC=.*$/m, c.fam.family === "alpine" ? 'K3S_EXEC="server"' : "K3S_EXEC=server"));
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "k3s", K8S_BAKE: "binary" });
    expect(r.code).toBe(1);
    expect(failures(r.stdout)).toEqual(["FAIL k3s waits for its role: its service would start before provisioning sets a role (and writes /etc/rancher/k3s/config.yaml)"]);
    s.write(settings, s.read(settings).replace(/^K3S_EXEC=.*$/m, "K3S_EXEC="));
    s.write("/etc/rancher/k3s/config.yaml", "token: baked\n");
    const baked = await verify(s, c.fam, { K8S_DISTRIBUTION: "k3s", K8S_BAKE: "binary" });
    expect(failures(baked.stdout)).toEqual(["FAIL k3s waits for its role: /etc/rancher/k3s/config.yaml is in the image"]);
  });

  it.skipIf(!canRun(c.fam))("k3s fails with a system containerd enabled and a binary that is not the recorded one", async () => {
    const s = await preparedNode(c.fam, "k3s", "binary");
    s.write(c.fam.family === "alpine" ? "/etc/init.d/containerd" : "/usr/lib/systemd/system/containerd.service", "[Service]\n");
    s.write("/.shim/enabled", `${s.read("/.shim/enabled")}${c.fam.unit("containerd")}\n`);
    s.write("/usr/local/bin/k3s", { content: fakeK3s(c.fam, "v1.30.0+k3s1"), mode: 0o755 });
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "k3s", K8S_BAKE: "binary" });
    expect(r.code).toBe(1);
    expect(failures(r.stdout)).toEqual([
      c.systemContainerd,
      `FAIL k3s binary checksum: found '${sha256Hex(fakeK3s(c.fam, "v1.30.0+k3s1"))}', expected '${sha256Hex(fakeK3s(c.fam, K3S))}'`,
      `FAIL k3s version ${K3S}: k3s --version says 'k3s version v1.30.0+k3s1 (0123abcd)'`,
    ]);
  });

  it.skipIf(!canRun(c.fam))("distribution none checks the kernel only; refuses an unknown distribution before checking anything", async () => {
    const s = await preparedNode(c.fam, "none", "none");
    const r = await verify(s, c.fam, { K8S_DISTRIBUTION: "none", K8S_BAKE: "none" });
    expect(r.code).toBe(0);
    expect(verdicts(r.stdout)).toEqual(KERNEL_OK);
    const bad = await verify(s, c.fam, { K8S_DISTRIBUTION: "microk8s", K8S_BAKE: "none" });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("FAIL environment: K8S_DISTRIBUTION 'microk8s' is not kubeadm, k3s or none\n");
  });
});

describe.skipIf(!canRun(ALPINE))("node-verify, Alpine's part", () => {
  it("fails when the boot-time rshared script is gone (OpenRC leaves / private at boot)", async () => {
    const s = await preparedNode(ALPINE, "none", "none");
    await s.exec(["/bb/rm", "/etc/init.d/k8s-rshared"]);
    const r = await verify(s, ALPINE, { K8S_DISTRIBUTION: "none", K8S_BAKE: "none" });
    expect(r.code).toBe(1);
    expect(failures(r.stdout)).toEqual(["FAIL root mount shared at boot: what k8s-kernel.sh set up for it is missing or not enabled"]);
  });
});

describe.each([
  // OpenRC mounts what rc_cgroup_mode in /etc/rc.conf says at boot (the build's own boot may still be hybrid).
  { fam: ALPINE, v1: async (s: Sandbox) => s.write("/etc/rc.conf", s.read("/etc/rc.conf").replace('rc_cgroup_mode="unified"', 'rc_cgroup_mode="hybrid"')), found: "/etc/rc.conf: rc_cgroup_mode is 'hybrid', not unified" },
  // systemd on Debian 12 mounts the unified hierarchy unless told otherwise on the kernel command line.
  { fam: DEBIAN, v1: async (s: Sandbox) => void (await s.exec(["/deb/rm", "/sys/fs/cgroup/cgroup.controllers"])), found: "/sys/fs/cgroup is not the unified cgroup v2 hierarchy" },
])("node-verify's cgroup v2 check on $fam.family", ({ fam, v1, found }) => {
  it.skipIf(!canRun(fam))("fails a node that boots with cgroup v1", async () => {
    const s = await preparedNode(fam, "none", "none");
    await v1(s);
    const r = await verify(s, fam, { K8S_DISTRIBUTION: "none", K8S_BAKE: "none" });
    expect(r.code).toBe(1);
    expect(failures(r.stdout)).toEqual([`FAIL cgroup v2: ${found}`]);
  });
});

describe.skipIf(!canRun(ALPINE))("node-verify, Alpine's kubelet", () => {
  it("fails when the kubelet's log directory is missing (supervise-daemon cannot open its output_log)", async () => {
    const s = await preparedNode(ALPINE, "kubeadm", "binary");
    expect(s.exists("/var/log/kubelet")).toBe(true);
    await s.exec(["/bb/rmdir", "/var/log/kubelet"]);
    const r = await verify(s, ALPINE, { K8S_DISTRIBUTION: "kubeadm", K8S_BAKE: "binary" });
    expect(r.code).toBe(1);
    expect(failures(r.stdout)).toEqual(["FAIL kubelet log directory /var/log/kubelet: missing: supervise-daemon cannot open /var/log/kubelet/kubelet.log"]);
  });
});

describe.skipIf(!canRun(DEBIAN))("node-verify, Debian's part", () => {
  it("fails on an active swap unit the init system still lists", async () => {
    const s = await preparedNode(DEBIAN, "none", "none");
    s.write("/.shim/swap-units", "swapfile.swap\n");
    const r = await verify(s, DEBIAN, { K8S_DISTRIBUTION: "none", K8S_BAKE: "none" });
    expect(r.code).toBe(1);
    expect(failures(r.stdout)).toEqual(["FAIL no active swap units: active: swapfile.swap"]);
  });
});
