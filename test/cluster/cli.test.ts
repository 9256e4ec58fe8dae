import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { newState, writeState } from "../../src/cluster/state.js";
import { topologyOf } from "../../src/cluster/topology.js";
import { renderVagrantfile } from "../../src/cluster/vagrantfile.js";
import { runCli } from "../support/cli.js";
import { expectIntact, plant } from "../support/planted.js";
import { needTool } from "../support/tools.js";

const YAML = "debian: {}\nk8s: {distribution: kubeadm}\ncluster: {name: lab, workers: 1}\n";
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function projectDir(yaml = YAML): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-cluster-cli-"));
  dirs.push(dir);
  writeFileSync(join(dir, "homelab.yaml"), yaml);
  return dir;
}

/** A cluster directory as `up` leaves it after the Vagrantfile and the state (no VM was ever made). */
async function writtenCluster(dir: string): Promise<string> {
  const t = topologyOf(parseConfig(YAML));
  const cluster = join(dir, ".homelab", "clusters", "lab");
  mkdirSync(cluster, { recursive: true });
  writeFileSync(
    join(cluster, "Vagrantfile"),
    renderVagrantfile(t, { kind: "build", name: "x/y-0123456789ab", file: "/nonexistent/b.box", sha256: "a".repeat(64), buildHash: "0".repeat(64) }, "tcg"),
  );
  await writeState(cluster, newState(t));
  return cluster;
}

const env = (dir: string) => ({ ...process.env, VAGRANT_HOME: join(dir, ".vh"), VAGRANT_CHECKPOINT_DISABLE: "1" });

describe("homelab cluster (no VM needed)", () => {
  it("up without a build of the config's box: exit 2, says what to do, writes no Vagrantfile", async () => {
    const dir = projectDir();
    const r = await runCli(["cluster", "up", "--accel", "tcg"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^homelab: no finished libvirt build of homelab\/debian-12-k8snode-kubeadm in .*builds$/m);
    expect(r.stderr).toContain("build the box first, or set cluster.box and cluster.registry");
    expect(existsSync(join(dir, ".homelab", "clusters", "lab", "Vagrantfile"))).toBe(false);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses bad input with exit 2: no cluster section, a bad --name or --accel, an unknown node", async () => {
    const none = await runCli(["cluster", "up"], { cwd: projectDir("debian: {}\nk8s: {distribution: kubeadm}\n") });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no cluster section/);
    const name = await runCli(["cluster", "status", "--name", "../x"], { cwd: projectDir() });
    expect(name.code).toBe(2);
    expect(name.stderr).toMatch(/--name: expected lowercase letters/);
    const accel = await runCli(["cluster", "up", "--accel", "hvf"], { cwd: projectDir() });
    expect(accel.code).toBe(2);
    expect(accel.stderr).toMatch(/--accel: expected one of auto, kvm, tcg/);
    const dir = projectDir();
    await writtenCluster(dir);
    const ssh = await runCli(["cluster", "ssh", "lab-w9"], { cwd: dir });
    expect(ssh.code).toBe(2);
    expect(ssh.stderr).toContain('cluster lab has no node "lab-w9" (nodes: lab-cp1, lab-w1)');
    const missing = await runCli(["cluster", "status", "--name", "other"], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no cluster other in /);
  });

  it.skipIf(!needTool("vagrant"))("status and list read the cluster; down removes homelab's files only and keeps the user's (and the directory)", async () => {
    const dir = projectDir();
    const cluster = await writtenCluster(dir);
    const mine = { "notes.md": "my notes\n", "extra/kubectl-aliases.sh": "alias k=kubectl\n" };
    plant(cluster, mine);
    const status = await runCli(["cluster", "status"], { cwd: dir, env: env(dir) });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^lab-cp1 +control-plane +192\.168\.56\.10 +not_created +-$/m);
    expect(status.stdout).toMatch(/^lab-w1 +worker +192\.168\.56\.11 +not_created +-$/m);
    expect(status.stdout).toMatch(/bootstrap not finished \(next step: facts;/);
    const list = await runCli(["cluster", "list"], { cwd: dir });
    expect(list.stdout).toMatch(/^lab +kubeadm +2 +not bootstrapped$/m);

    const down = await runCli(["cluster", "down"], { cwd: dir, env: env(dir) });
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/^cluster lab: destroyed \(kept .*: it holds files homelab did not write\)$/m);
    expectIntact(cluster, mine);
    expect(readdirSync(cluster).sort()).toEqual(["extra", "notes.md"]);
    const after = await runCli(["cluster", "list"], { cwd: dir });
    expect(after.stdout).not.toMatch(/^lab /m);
  }, 120_000);

  it("never acts on a Vagrantfile homelab did not write: down refuses, and leaves it and its machines alone", async () => {
    const dir = projectDir();
    const cluster = await writtenCluster(dir);
    const theirs = 'Vagrant.configure("2") { |c| c.vm.box = "mine" }\n';
    writeFileSync(join(cluster, "Vagrantfile"), theirs);
    const down = await runCli(["cluster", "down"], { cwd: dir, env: env(dir) });
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/Vagrantfile: not a Vagrantfile homelab wrote; refusing to replace it or act on its machines/);
    expect(readFileSync(join(cluster, "Vagrantfile"), "utf8")).toBe(theirs);
    expect(existsSync(join(cluster, "cluster.json"))).toBe(true);
    const up = await runCli(["cluster", "up", "--accel", "tcg"], { cwd: dir });
    expect(up.code).toBe(2);
    expect(readFileSync(join(cluster, "Vagrantfile"), "utf8")).toBe(theirs);
  });
});
