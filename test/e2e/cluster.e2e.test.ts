/**
 * END-TO-END, SLOW (the nodes boot under TCG: about 3 minutes for two, parallel): `homelab cluster
 * up` with the real vagrant + vagrant-libvirt + libvirtd, inside a network namespace the test makes
 * (test/support/libvirt-netns.ts), from a box homelab really built (test/support/e2e.ts
 * cachedClusterBox: the build e2e's config, built once and then a cache hit).
 *
 * Kubernetes cannot be downloaded here: the test puts stand-ins for kubeadm, kubectl, crictl and
 * the API server's join endpoint into the nodes (test/e2e/cluster-standins/, never shipped). They
 * check what they are given and answer in the real formats; everything else is real: the VMs, the
 * private network, SSH, the order, the token and CA hash, the kubeconfig, resume, teardown.
 *
 * One boot of 1 control plane + 1 worker; then a failure injected at each bootstrap step in turn
 * (facts, init, cni, join, kubeconfig, ready, images) and a Ctrl-C, each resumed by the next `up`;
 * `up` twice is a no-op; `down` leaves no domain, volume or network. Phase times are printed as
 * `e2e-phase: <name> <seconds>` lines.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, parseDocument } from "yaml";
import { BIN } from "../support/cli.js";
import { cachedClusterBox } from "../support/e2e.js";
import { LibvirtNetns, MANAGEMENT_NETWORK, sh, STORAGE_POOL, type RunResult } from "../support/libvirt-netns.js";
import { needTool } from "../support/tools.js";

const NETNS = "homelab-e2e";
const CP = "lab-cp1";
const W = "lab-w1";
const CP_IP = "192.168.56.10";
const W_IP = "192.168.56.11";
const S = "/var/lib/homelab-standin";
const STANDINS = join(import.meta.dirname, "cluster-standins");

const ready = ["packer", "qemu-system-x86_64", "debootstrap", "qemu-img", "vagrant", "virsh", "libvirtd", "virtlogd", "dnsmasq", "ip", "ssh", "ruby"]
  .map((tool) => needTool(tool))
  .every(Boolean);

describe.skipIf(!ready)("homelab cluster up: 1 control plane + 1 worker with vagrant-libvirt, bootstrapped over SSH (stand-in kubeadm)", () => {
  let dir: string;
  let lv: LibvirtNetns | undefined;
  let failed = false;
  const phases: Array<[string, number]> = [];
  const project = () => join(dir, "project");
  const clusterDir = () => join(project(), ".homelab", "clusters", "lab");
  const env = (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, VAGRANT_HOME: join(dir, "vagrant-home"), VAGRANT_CHECKPOINT_DISABLE: "1", HOMELAB_NO_VERSION_CHECK: "1" };
    delete e.VAGRANT_CLOUD_TOKEN;
    delete e.VAGRANT_SERVER_URL;
    return e;
  };
  /** The CLI, run inside the namespace (it runs vagrant and ssh, which must reach the nodes). */
  const homelab = (args: string[], timeoutMs = 5 * 60_000): Promise<RunResult> =>
    lv!.run(process.execPath, [BIN, ...args], { cwd: project(), env: env(), log: join(dir, "homelab.log"), timeoutMs });
  const up = (extra: string[] = []) => homelab(["cluster", "up", "--accel", "tcg", ...extra], 25 * 60_000);
  /** A script on a node as root, over the cluster's own ssh-config. */
  const onNode = (node: string, script: string): Promise<RunResult> =>
    lv!.run("ssh", ["-F", join(clusterDir(), "ssh-config"), "-o", "BatchMode=yes", node, `sudo sh -c '${script.replace(/'/g, `'\\''`)}'`], { timeoutMs: 120_000 });
  const must = async (node: string, script: string): Promise<string> => {
    const r = await onNode(node, script);
    expect(r.code, `${node}: ${script}\n${r.output}`).toBe(0);
    return r.output;
  };
  const state = () => JSON.parse(readFileSync(join(clusterDir(), "cluster.json"), "utf8")) as { steps: Record<string, string> };
  const calls = (node: string) => must(node, `cat ${S}/calls.log 2>/dev/null || true`);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "homelab-e2e-cluster-"));
    chmodSync(dir, 0o711);
    const box = await cachedClusterBox(BIN);
    mkdirSync(join(project(), ".homelab"), { recursive: true });
    // The build lives in the cache; this project's work directory sees it as its own builds/.
    symlinkSync(join(box.workDir, "builds"), join(project(), ".homelab", "builds"));
    writeFileSync(
      join(project(), "homelab.yaml"),
      `${box.config}cluster:\n  name: lab\n  controlPlanes: 1\n  workers: 1\n  controlPlane: {cpus: 1, memoryMiB: 1024}\n  worker: {cpus: 1, memoryMiB: 1024}\n  network: 192.168.56.0/24\n`,
    );
    lv = await LibvirtNetns.start({ name: NETNS, dir: join(dir, "libvirt") });
  }, 60 * 60_000);

  afterAll(async () => {
    const problems: string[] = [];
    if (lv) {
      if ((await lv.newObjects().catch(() => ({ domains: [] as string[] }))).domains.length > 0 && existsSync(join(clusterDir(), "Vagrantfile"))) {
        await lv.run("vagrant", ["destroy", "-f"], { cwd: clusterDir(), env: env(), timeoutMs: 5 * 60_000 });
      }
      problems.push(...(await lv.stop()));
    }
    console.log(phases.map(([name, s]) => `e2e-phase: ${name} ${s.toFixed(1)}`).join("\n"));
    if (problems.length > 0) throw new Error(`teardown left things behind: ${problems.join("; ")}`);
    if (failed) console.log(`e2e: kept ${dir} (homelab.log, project/.homelab/clusters/lab/up.log, libvirt/libvirtd.log)`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  }, 10 * 60_000);

  afterEach((ctx) => {
    if (ctx.task.result?.state === "fail") failed = true;
  });

  it("up brings both nodes up in parallel on the private network, then stops at the facts step: no image listing on the nodes yet", async () => {
    const r = await up();
    // The nodes are fine; only the air-gap check cannot list their images (no crictl before the stand-ins).
    expect(r.code, r.output.slice(-4000)).toBe(1);
    const vms = /^vms up +([\d.]+) s$/m.exec(r.output);
    expect(vms, r.output).not.toBeNull();
    phases.push(["vms-up", Number(vms![1])]);
    expect(r.output).toContain("homelab: the nodes' network is not what the cluster needs");
    const details = r.output.split("\n").filter((l) => /^  lab-/.test(l));
    expect(details.sort()).toEqual([
      `  ${CP}: \`crictl images -q\` failed: the air-gap check cannot see the image store`,
      `  ${W}: \`crictl images -q\` failed: the air-gap check cannot see the image store`,
    ]);
    expect(state().steps).toEqual({ facts: "started" });
    expect((await lv!.newObjects()).domains.sort()).toEqual([`homelab-${CP}`, `homelab-${W}`]);
    // The Vagrantfile is standalone: plain vagrant reads it and sees the running nodes.
    const status = await lv!.run("vagrant", ["status", "--machine-readable"], { cwd: clusterDir(), env: env() });
    expect(status.output).toMatch(new RegExp(`,${CP},state,running`));
    expect(status.output).toMatch(new RegExp(`,${W},state,running`));
  }, 30 * 60_000);

  it("the nodes have their own names and management addresses, and reach each other on the private addresses through the private interface", async () => {
    const facts = async (node: string) => {
      const out = await must(node, "hostname; ip -o -4 addr show | awk '{print $2, $4}'; ip -4 route show default");
      return out;
    };
    const cp = await facts(CP);
    const w = await facts(W);
    expect(cp.split("\n")[0]).toBe(CP);
    expect(w.split("\n")[0]).toBe(W);
    const mgmt = (out: string) => /^default via \S+ dev (\S+)/m.exec(out)![1]!;
    const addrOf = (out: string, iface: string) => new RegExp(`^${iface} (\\S+)/`, "m").exec(out)![1]!;
    // The box's DHCP identity is not shared: two clones, two management addresses.
    expect(addrOf(cp, mgmt(cp))).not.toBe(addrOf(w, mgmt(w)));
    expect(cp).toMatch(new RegExp(`^(\\S+) ${CP_IP.replace(/\./g, "\\.")}/24$`, "m"));
    expect(w).toMatch(new RegExp(`^(\\S+) ${W_IP.replace(/\./g, "\\.")}/24$`, "m"));
    const privateIface = /^(\S+) 192\.168\.56\.11\/24$/m.exec(w)![1]!;
    expect(privateIface).not.toBe(mgmt(w));
    // The route from the worker to the control plane's private address leaves by the private interface.
    expect(await must(W, `ip -4 route get ${CP_IP}`)).toMatch(new RegExp(`dev ${privateIface} `));
    // And TCP gets through (sshd listens on every address).
    await must(W, `bash -c "exec 3<>/dev/tcp/${CP_IP}/22" && echo reached`);
    await must(CP, `bash -c "exec 3<>/dev/tcp/${W_IP}/22" && echo reached`);
  }, 5 * 60_000);

  it("with the stand-ins in place: a failure injected at init stops there; the next up resets and redoes init, and stops at the CNI", async () => {
    for (const node of [CP, W]) {
      const files = { "/usr/local/bin/kubeadm": "kubeadm", "/usr/local/bin/kubectl": "kubectl", "/usr/local/bin/crictl": "crictl", "/usr/local/lib/homelab-standin/apiserver": "apiserver" };
      const script = Object.entries(files)
        .map(([path, name]) => `mkdir -p $(dirname ${path}) && echo ${readFileSync(join(STANDINS, name)).toString("base64")} | base64 -d > ${path} && chmod 755 ${path}`)
        .join(" && ");
      await must(node, `${script} && mkdir -p ${S} && printf 'sha256:0d2f3a\\nsha256:9c41be\\n' > ${S}/images`);
    }
    // A file of the user's in the cluster's directory: it must survive up and down.
    writeFileSync(join(clusterDir(), "notes.md"), "my notes\n");

    await must(CP, `touch ${S}/fail-init`);
    const r = await up();
    expect(r.code, r.output.slice(-3000)).toBe(1);
    expect(r.output).toContain(`homelab: ${CP}: kubeadm init failed (exit 1)`);
    expect(r.output).toContain("error execution phase wait-control-plane");
    expect(state().steps).toEqual({ facts: "done", init: "started" });

    const r2 = await up();
    expect(r2.code, r2.output.slice(-3000)).toBe(1);
    expect(r2.output).toContain("resuming init on lab-cp1");
    // The test box has no baked CNI (the box's cni part bakes it): homelab says so and stops.
    expect(r2.output).toContain(`homelab: ${CP}: the box has no CNI manifest at /etc/homelab/cni/kube-flannel.yml`);
    // Real kubeadm refuses an init over a half-done one: homelab reset first.
    expect((await calls(CP)).split("\n").filter((l) => l.startsWith("kubeadm "))).toEqual([
      "kubeadm init --config /etc/homelab/cluster/kubeadm-init.yaml",
      "kubeadm reset -f",
      "kubeadm init --config /etc/homelab/cluster/kubeadm-init.yaml",
    ]);
    expect(state().steps).toMatchObject({ init: "done", cni: "started" });
  }, 10 * 60_000);

  it("the CNI is the box's flannel with every private address as --iface; a failed apply and a failed join are redone", async () => {
    // flannel's own manifest where the box's cni part puts it (the parts homelab edits, see FLANNEL).
    await must(CP, `mkdir -p /etc/homelab/cni && echo ${Buffer.from(FLANNEL).toString("base64")} | base64 -d > /etc/homelab/cni/kube-flannel.yml`);
    await must(CP, `touch ${S}/fail-cni`);
    const r1 = await up();
    expect(r1.code, r1.output.slice(-3000)).toBe(1);
    expect(r1.output).toContain(`homelab: ${CP}: applying the CNI (flannel) failed (exit 1)`);
    await must(W, `touch ${S}/fail-join`);
    const r = await up();
    expect(r.code, r.output.slice(-3000)).toBe(1);
    expect(r.output).toContain(`homelab: ${W}: kubeadm join failed (exit 1)`);
    const cni = parseAllDocuments(await must(CP, `cat ${S}/cni.yml`)).map((d) => d.toJS());
    expect(cni[1].spec.template.spec.containers[0].args).toEqual(["--ip-masq", "--kube-subnet-mgr", `--iface=${CP_IP}`, `--iface=${W_IP}`]);
    expect(JSON.parse(cni[0].data["net-conf.json"]).Network).toBe("10.244.0.0/16");
    expect(state().steps).toMatchObject({ cni: "done", [`join:${W}`]: "started" });
  }, 10 * 60_000);

  it("a Ctrl-C during a step exits 130 and leaves the step to redo; kubeconfig and ready failures resume too", async () => {
    // Ctrl-C while the worker joins (made slow): homelab passes it on and stops cleanly.
    await must(W, `touch ${S}/slow-join`);
    const child = spawn("ip", ["netns", "exec", NETNS, process.execPath, BIN, "cluster", "up", "--accel", "tcg"], { cwd: project(), env: env(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the join never started:\n${out}`)), 5 * 60_000);
      child.stderr.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes(`resuming join:${W} on ${W}`)) {
          clearTimeout(timer);
          setTimeout(() => {
            child.kill("SIGINT");
            resolve();
          }, 8000);
        }
      });
    });
    expect(await code, out).toBe(130);
    expect(out).toMatch(/homelab: cancelled/);
    expect(state().steps[`join:${W}`]).toBe("started");
    // ssh carried no terminal: the stand-in on the node is still waiting; let it end.
    await must(W, `rm -f ${S}/slow-join`);

    // kubeconfig: admin.conf unreadable for one run.
    await must(CP, "mv /etc/kubernetes/admin.conf /etc/kubernetes/admin.conf.away");
    const r = await up();
    expect(r.code, r.output.slice(-3000)).toBe(1);
    expect(r.output).toContain(`homelab: ${CP}: reading /etc/kubernetes/admin.conf failed (exit 1)`);
    expect(state().steps).toMatchObject({ [`join:${W}`]: "done", kubeconfig: "started" });
    await must(CP, "mv /etc/kubernetes/admin.conf.away /etc/kubernetes/admin.conf");
    // The join resumed after the Ctrl-C was reset first, and came over the private network to the advertised address.
    expect((await calls(W)).split("\n").filter((l) => l.startsWith("kubeadm ")).slice(-2)).toEqual(["kubeadm reset -f", "kubeadm join --config /etc/homelab/cluster/kubeadm-join.yaml"]);
    expect(await must(CP, `cat ${S}/apiserver.log`)).toMatch(new RegExp(`^JOIN ${W} ${W_IP} from ${CP_IP.replace(/\./g, "\\.")}:6443<-${W_IP.replace(/\./g, "\\.")}:\\d+`, "m"));

    // ready: the API does not answer until the timeout.
    await must(CP, `touch ${S}/fail-ready`);
    const r2 = await up(["--timeout", "15"]);
    expect(r2.code, r2.output.slice(-3000)).toBe(1);
    expect(r2.output).toMatch(/homelab: the nodes were not Ready within 15 s \(The connection to the server 192\.168\.56\.10:6443 was refused/);
    await must(CP, `rm ${S}/fail-ready`);
  }, 15 * 60_000);

  it("an image pulled during the bootstrap fails up loudly; without it, up finishes: Ready, kubeconfig on the private address", async () => {
    await must(W, `echo sha256:5e1f00dpulled >> ${S}/images`);
    const r = await up();
    expect(r.code, r.output.slice(-3000)).toBe(1);
    expect(r.output).toContain("homelab: images were pulled during the bootstrap: the box does not carry everything the cluster needs (air-gap broken)");
    expect(r.output).toContain(`  ${W}: sha256:5e1f00dpulled`);
    await must(W, `sed -i '/pulled/d' ${S}/images`);

    const ok = await up();
    expect(ok.code, ok.output.slice(-3000)).toBe(0);
    expect(ok.output).toMatch(/^cluster lab is Ready in [\d.]+ s \(box ci\/debian-12-k8snode-kubeadm-[0-9a-f]{12} \(build [0-9a-f]{12}\), tcg\)$/m);
    for (const line of ok.output.matchAll(/^(ready|images|facts|init|joins) +([\d.]+) s$/gm)) phases.push([`resume-${line[1]}`, Number(line[2])]);
    const kube = parseDocument(readFileSync(join(clusterDir(), "kubeconfig"), "utf8")).toJS();
    expect(kube.clusters[0].cluster.server).toBe(`https://${CP_IP}:6443`);
    expect(statSync(join(clusterDir(), "kubeconfig")).mode & 0o777).toBe(0o600);
    expect(statSync(join(clusterDir(), "cluster.json")).mode & 0o777).toBe(0o600);
    expect(Object.values(state().steps).every((s) => s === "done")).toBe(true);
  }, 10 * 60_000);

  it("every bootstrap command went to the right node with the private address everywhere it must be (kubeadm v1beta4 fields)", async () => {
    const [init, cluster, kubelet] = parseAllDocuments(await must(CP, `cat ${S}/init.yaml`)).map((d) => d.toJS());
    expect(init).toMatchObject({ kind: "InitConfiguration", localAPIEndpoint: { advertiseAddress: CP_IP, bindPort: 6443 }, nodeRegistration: { name: CP, kubeletExtraArgs: [{ name: "node-ip", value: CP_IP }] } });
    expect(cluster).toMatchObject({ kind: "ClusterConfiguration", controlPlaneEndpoint: `${CP_IP}:6443`, networking: { podSubnet: "10.244.0.0/16" } });
    expect(kubelet).toEqual({ apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", cgroupDriver: "systemd" });
    // Only documented v1beta4 fields (kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/).
    expect(Object.keys(init).sort()).toEqual(["apiVersion", "bootstrapTokens", "kind", "localAPIEndpoint", "nodeRegistration"]);
    expect(Object.keys(init.nodeRegistration).sort()).toEqual(["criSocket", "kubeletExtraArgs", "name"]);
    const [join] = parseAllDocuments(await must(W, `cat ${S}/join.yaml`)).map((d) => d.toJS());
    expect(join).toEqual({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "JoinConfiguration",
      discovery: { bootstrapToken: { apiServerEndpoint: `${CP_IP}:6443`, token: init.bootstrapTokens[0].token, caCertHashes: [expect.stringMatching(/^sha256:[0-9a-f]{64}$/)] } },
      nodeRegistration: { name: W, criSocket: "unix:///run/containerd/containerd.sock", kubeletExtraArgs: [{ name: "node-ip", value: W_IP }] },
    });
    // Which command ran where: init and the CNI on the control plane only, join on the worker only.
    const cpCalls = await calls(CP);
    const wCalls = await calls(W);
    expect(cpCalls).not.toMatch(/kubeadm join/);
    expect(wCalls).not.toMatch(/kubeadm init|kubectl/);
    expect(cpCalls).toMatch(/^kubectl --kubeconfig \/etc\/kubernetes\/admin\.conf apply -f \/etc\/homelab\/cluster\/kube-flannel\.yml$/m);
    // The join files hold the token: root's only.
    expect((await must(W, "stat -c %a /etc/homelab/cluster/kubeadm-join.yaml /etc/homelab/cluster")).trim().split("\n")).toEqual(["600", "700"]);
    const status = await homelab(["cluster", "status", "--json"]);
    expect(status.code, status.output).toBe(0);
    const s = JSON.parse(status.output.slice(status.output.indexOf("{")));
    expect(s.nodes).toEqual([
      { name: CP, role: "control-plane", ip: CP_IP, machine: "running", ready: "Ready" },
      { name: W, role: "worker", ip: W_IP, machine: "running", ready: "Ready" },
    ]);
  }, 5 * 60_000);

  it("up again on the running cluster changes nothing: no vagrant up, no command on any node", async () => {
    const before = { cp: await calls(CP), w: await calls(W), vf: statSync(join(clusterDir(), "Vagrantfile")).mtimeMs };
    const again = await up();
    expect(again.code, again.output).toBe(0);
    expect(again.output).toMatch(/^cluster lab is up; nothing to do/m);
    phases.push(["up-again", again.seconds]);
    expect(await calls(CP)).toBe(before.cp);
    expect(await calls(W)).toBe(before.w);
    expect(statSync(join(clusterDir(), "Vagrantfile")).mtimeMs).toBe(before.vf);
    const upLog = readFileSync(join(clusterDir(), "up.log"), "utf8");
    expect(upLog.slice(upLog.lastIndexOf("homelab cluster up "))).not.toMatch(/\$ vagrant up|\[lab-/);
  }, 5 * 60_000);

  it("down leaves no domain, volume or network of the cluster, and the user's file", async () => {
    const list = await homelab(["cluster", "list"]);
    expect(list.output).toMatch(/^lab +kubeadm +2 +bootstrapped$/m);
    const down = await homelab(["cluster", "down"]);
    expect(down.code, down.output).toBe(0);
    phases.push(["down", down.seconds]);
    expect(down.output).toContain("cluster lab: destroyed (kept");
    const left = await lv!.newObjects();
    expect(left.domains).toEqual([]);
    expect(left.networks).toEqual([MANAGEMENT_NETWORK]);
    const volumes = (await lv!.names(["vol-list", STORAGE_POOL])).map((l) => l.split(/\s+/)[0]!);
    // Only vagrant-libvirt's copy of the box stays in the pool (the pool is the test's own).
    expect(volumes.filter((v) => !/vagrant_box_image/.test(v))).toEqual([]);
    expect(readFileSync(join(clusterDir(), "notes.md"), "utf8")).toBe("my notes\n");
    expect(existsSync(join(clusterDir(), "Vagrantfile"))).toBe(false);
    expect(existsSync(join(clusterDir(), "cluster.json"))).toBe(false);
    expect((await sh("ip", ["-4", "-o", "addr", "show"])).output).not.toContain("192.168.56.");
  }, 10 * 60_000);
});

/**
 * The parts of flannel's manifest homelab edits, as upstream ships them (flannel-io/flannel,
 * Documentation/kube-flannel.yml, v0.26.x): net-conf.json's Network and the DaemonSet's args.
 */
const FLANNEL = `kind: ConfigMap
apiVersion: v1
metadata:
  name: kube-flannel-cfg
  namespace: kube-flannel
data:
  net-conf.json: |
    {
      "Network": "10.244.0.0/16",
      "EnableNFTables": false,
      "Backend": {
        "Type": "vxlan"
      }
    }
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-flannel-ds
  namespace: kube-flannel
spec:
  template:
    spec:
      containers:
      - args:
        - --ip-masq
        - --kube-subnet-mgr
        command:
        - /opt/bin/flanneld
        image: ghcr.io/flannel-io/flannel:v0.26.7
        name: kube-flannel
`;
