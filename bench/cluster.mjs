#!/usr/bin/env node
// bench/cluster: `homelab cluster up` against a bare `vagrant up` of the same nodes, same run.
//
// Inside the e2e's network namespace (test/support/libvirt-netns.ts, its own libvirtd), from the
// box the cluster e2e builds (test/support/e2e.ts cachedClusterBox: Debian, kubeadm, bake none).
//   1. warm-up: `homelab cluster up` once, so vagrant-libvirt has the box in its pool; destroy
//   2. bare `vagrant up --parallel` with the very Vagrantfile homelab wrote; destroy
//   3. `homelab cluster up`: VMs, ssh-config, facts (the orchestration's own cost; it stops at
//      the air-gap check because the box has no kubeadm), then, with the e2e's stand-ins for
//      kubeadm/kubectl/crictl put on the nodes, `up` again to Ready
// Prints each phase's time, the total to Ready, the box's bake and the accelerator, and the ratio
// (homelab's VMs-to-facts run / bare vagrant up; target <= 1.2).
// Needs root and the e2e's tools; boots the nodes three times (under TCG: ~10 minutes).
// Run: npm run build && flock /work/wt/vm.lock node bench/cluster.mjs   (BENCH_WORKERS=2 for 1+2)
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runnerImport } from "vite";

const repo = fileURLToPath(new URL("..", import.meta.url));
const bin = join(repo, "bin/homelab.js");
const standins = join(repo, "test/e2e/cluster-standins");
const { LibvirtNetns } = (await runnerImport(join(repo, "test/support/libvirt-netns.ts"))).module;
const { cachedClusterBox } = (await runnerImport(join(repo, "test/support/e2e.ts"))).module;
const workers = Number(process.env.BENCH_WORKERS ?? 1);

const box = await cachedClusterBox(bin);
const dir = mkdtempSync(join(tmpdir(), "homelab-bench-cluster-"));
chmodSync(dir, 0o711);
const project = join(dir, "project");
mkdirSync(join(project, ".homelab"), { recursive: true });
symlinkSync(join(box.workDir, "builds"), join(project, ".homelab", "builds"));
writeFileSync(join(project, "homelab.yaml"), `${box.config}cluster: {name: bench, workers: ${workers}, controlPlane: {cpus: 1, memoryMiB: 1024}, worker: {cpus: 1, memoryMiB: 1024}}\n`);
const clusterDir = join(project, ".homelab", "clusters", "bench");
const builds = join(box.workDir, "builds");
// The newest finished build: the one `cluster up` takes (an older one of other inputs may sit beside it).
const record = readdirSync(builds)
  .map((h) => { try { return JSON.parse(readFileSync(join(builds, h, "build.json"), "utf8")); } catch { return undefined; } })
  .filter(Boolean)
  .sort((a, b) => String(b.endedAt).localeCompare(String(a.endedAt)))[0];
const env = { ...process.env, VAGRANT_HOME: join(dir, "vagrant-home"), VAGRANT_CHECKPOINT_DISABLE: "1", HOMELAB_NO_VERSION_CHECK: "1" };

const lv = await LibvirtNetns.start({ name: "homelab-e2e", dir: join(dir, "libvirt") });
const rows = [];
try {
  const homelab = (args) => lv.run(process.execPath, [bin, ...args], { cwd: project, env, timeoutMs: 30 * 60_000 });
  const vagrant = (args, cwd) => lv.run("vagrant", args, { cwd, env, timeoutMs: 30 * 60_000 });
  const must = (r, what) => { if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.output.slice(-3000)}`); return r; };

  const warm = await homelab(["cluster", "up", "--accel", "tcg"]);
  if (!/air-gap check cannot see the image store/.test(warm.output)) throw new Error(`warm-up up did not reach the facts step:\n${warm.output.slice(-3000)}`);
  must(await vagrant(["destroy", "-f"], clusterDir), "destroy after warm-up");
  rmSync(join(clusterDir, "cluster.json"));

  const bareDir = join(dir, "bare");
  mkdirSync(bareDir);
  cpSync(join(clusterDir, "Vagrantfile"), join(bareDir, "Vagrantfile"));
  const bare = must(await vagrant(["up", "--provider", "libvirt", "--parallel"], bareDir), "bare vagrant up");
  must(await vagrant(["destroy", "-f"], bareDir), "bare destroy");

  const first = await homelab(["cluster", "up", "--accel", "tcg"]);
  if (!/air-gap check cannot see the image store/.test(first.output)) throw new Error(`up did not reach the facts step:\n${first.output.slice(-3000)}`);
  const vmsUp = Number(/^vms up +([\d.]+) s$/m.exec(first.output)?.[1]);
  const nodes = [...readFileSync(join(clusterDir, "Vagrantfile"), "utf8").matchAll(/name: '([^']+)', role/g)].map((m) => m[1]);
  for (const node of nodes) {
    const files = { "/usr/local/bin/kubeadm": "kubeadm", "/usr/local/bin/kubectl": "kubectl", "/usr/local/bin/crictl": "crictl", "/usr/local/lib/homelab-standin/apiserver": "apiserver" };
    const script = Object.entries(files).map(([p, n]) => `mkdir -p $(dirname ${p}) && echo ${readFileSync(join(standins, n)).toString("base64")} | base64 -d > ${p} && chmod 755 ${p}`).join(" && ");
    const flannel = "kind: ConfigMap\ndata:\n  net-conf.json: |\n    { \"Network\": \"10.244.0.0/16\" }\n---\nkind: DaemonSet\nspec:\n  template:\n    spec:\n      containers:\n      - args:\n        - --ip-masq\n        - --kube-subnet-mgr\n";
    must(await lv.run("ssh", ["-F", join(clusterDir, "ssh-config"), node, `sudo sh -c '${script} && mkdir -p /var/lib/homelab-standin /etc/homelab/cni && echo sha256:0d2f3a > /var/lib/homelab-standin/images && echo ${Buffer.from(flannel).toString("base64")} | base64 -d > /etc/homelab/cni/kube-flannel.yml'`]), `stand-ins on ${node}`);
  }
  const second = must(await homelab(["cluster", "up", "--accel", "tcg"]), "up to Ready");
  const phase = (name) => Number(new RegExp(`^${name} +([\\d.]+) s$`, "m").exec(second.output)?.[1] ?? 0);
  must(await homelab(["cluster", "down"]), "down");

  rows.push(["box", `${record?.boxName} (bake none; build ${record?.hash.slice(0, 12)}, built under ${record?.accelerator})`]);
  rows.push(["accelerator", "tcg (the nodes; libvirt driver qemu)"]);
  rows.push(["nodes", `1 control plane + ${workers} worker(s)`]);
  rows.push(["bare vagrant up", `${bare.seconds.toFixed(1)} s`]);
  rows.push(["homelab: vms up", `${vmsUp.toFixed(1)} s`]);
  rows.push(["homelab: up to facts", `${first.seconds.toFixed(1)} s (status, vagrant up, ssh-config, facts)`]);
  for (const p of ["facts", "init", "joins", "ready"]) rows.push([`homelab: ${p}`, `${phase(p).toFixed(1)} s`]);
  rows.push(["total to Ready", `${(first.seconds + second.seconds).toFixed(1)} s (the stand-ins installed between the two runs not counted)`]);
  rows.push(["ratio", `${(first.seconds / bare.seconds).toFixed(2)}x (homelab up to facts / bare vagrant up; target <= 1.2)`]);
} finally {
  const problems = await lv.stop();
  if (problems.length > 0) console.error(`teardown: ${problems.join("; ")}`);
  rmSync(dir, { recursive: true, force: true });
}
for (const [k, v] of rows) console.log(`${k.padEnd(22)} ${v}`);
