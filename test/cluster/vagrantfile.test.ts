import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { topologyOf } from "../../src/cluster/topology.js";
import { renderVagrantfile, ruby, type BoxSource } from "../../src/cluster/vagrantfile.js";
import { needTool } from "../support/tools.js";

const BUILD_BOX: BoxSource = { kind: "build", name: "ci/debian-12-k8snode-kubeadm-0123456789ab", file: "/w/.homelab/builds/x y/boxes/b-libvirt.box", sha256: "a".repeat(64), buildHash: "0123456789ab".padEnd(64, "c") };
const REGISTRY_BOX: BoxSource = { kind: "registry", name: "acme/debian-12-k8snode-k3s", version: "1.2.3", registry: "http://boxes.lan:8080/" };
const config = (cluster: string, dist = "kubeadm") => parseConfig(`debian: {}\nk8s: {distribution: ${dist}}\ncluster: ${cluster}\n`);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The Vagrantfile in a directory of its own (vagrant reads ./Vagrantfile). */
function project(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "homelab-vf-"));
  dirs.push(dir);
  writeFileSync(join(dir, "Vagrantfile"), text);
  return dir;
}

describe("the cluster's Vagrantfile", () => {
  it("names each node, its private address, size and role, control planes first", () => {
    const t = topologyOf(config("{name: lab, controlPlanes: 3, workers: 2, controlPlane: {cpus: 4, memoryMiB: 4096}, network: 10.20.0.0/24}"));
    const text = renderVagrantfile(t, BUILD_BOX, "kvm");
    const nodes = [...text.matchAll(/\{ name: '([^']+)', role: '([^']+)', ip: '([^']+)', cpus: (\d+), memory: (\d+) \}/g)].map((m) => m.slice(1).join(" "));
    expect(nodes).toEqual([
      "lab-cp1 control-plane 10.20.0.10 4 4096",
      "lab-cp2 control-plane 10.20.0.11 4 4096",
      "lab-cp3 control-plane 10.20.0.12 4 4096",
      "lab-w1 worker 10.20.0.13 2 2048",
      "lab-w2 worker 10.20.0.14 2 2048",
    ]);
    expect(text).toContain("libvirt__network_name: 'homelab-lab'");
    expect(text).toContain("libvirt__netmask: '255.255.255.0'");
    expect(text).toContain('libvirt__forward_mode: "none"');
    expect(text).toContain('libvirt.driver = "kvm"');
    expect(text).toContain('libvirt.cpu_mode = "host-passthrough"');
    // A build's box: from its file (URL-encoded path), checked by the build's sha256.
    expect(text).toContain("config.vm.box_url = 'file:///w/.homelab/builds/x%20y/boxes/b-libvirt.box'");
    expect(text).toContain(`config.vm.box_download_checksum = '${"a".repeat(64)}'`);
  });

  it("pins a registry box by name and version, from the registry's catalog URL; TCG on a machine without KVM", () => {
    const text = renderVagrantfile(topologyOf(config("{}", "k3s")), REGISTRY_BOX, "tcg");
    expect(text).toContain("config.vm.box = 'acme/debian-12-k8snode-k3s'");
    expect(text).toContain("config.vm.box_url = 'http://boxes.lan:8080/acme/debian-12-k8snode-k3s'");
    expect(text).toContain("config.vm.box_version = '= 1.2.3'");
    expect(text).toContain('libvirt.driver = "qemu"');
    expect(text).toContain('libvirt.cpu_model = "qemu64"');
  });

  it.skipIf(!needTool("ruby"))("is valid Ruby, and a hostile string stays one Ruby string literal", () => {
    for (const [box, accel] of [[BUILD_BOX, "kvm"], [REGISTRY_BOX, "tcg"]] as const) {
      const dir = project(renderVagrantfile(topologyOf(config("{controlPlanes: 3, workers: 3}")), box, accel));
      expect(execFileSync("ruby", ["-c", join(dir, "Vagrantfile")], { encoding: "utf8" })).toBe("Syntax OK\n");
    }
    for (const s of ["a'b", "a\\'; system('id'); '", "#{`id`}", "x\\", "\\\\'"]) {
      expect(execFileSync("ruby", ["-e", `print ${ruby(s)}`], { encoding: "utf8" })).toBe(s);
    }
    expect(() => ruby("a\nb")).toThrow(/control character/);
  });

  it.skipIf(!needTool("vagrant"))("passes the real `vagrant validate`, and `vagrant status` lists every node as a machine (offline)", () => {
    const dir = project(renderVagrantfile(topologyOf(config("{name: lab, workers: 2}")), BUILD_BOX, "tcg"));
    const env = { ...process.env, VAGRANT_HOME: join(dir, ".vh"), VAGRANT_CHECKPOINT_DISABLE: "1", VAGRANT_DEFAULT_PROVIDER: "libvirt" };
    const validate = spawnSync("vagrant", ["validate"], { cwd: dir, env, encoding: "utf8" });
    expect(validate.status, validate.stdout + validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/Vagrantfile validated successfully/);
    const status = spawnSync("vagrant", ["status", "--machine-readable"], { cwd: dir, env, encoding: "utf8" });
    expect(status.status, status.stderr).toBe(0);
    const machines = status.stdout.split("\n").map((l) => l.split(",")).filter((c) => c[2] === "state").map((c) => `${c[1]} ${c[3]}`);
    expect(machines).toEqual(["lab-cp1 not_created", "lab-w1 not_created", "lab-w2 not_created"]);
  }, 120_000);
});
