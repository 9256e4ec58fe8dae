import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/load.js";

const K8S = "k8s: {distribution: kubeadm}\n";

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.details];
    throw err;
  }
  throw new Error("the config was accepted");
}

describe("the cluster section of homelab.yaml", () => {
  it("has defaults: one control plane, one worker, 2 CPUs / 2 GiB each, 192.168.56.0/24, no registry box", () => {
    const c = parseConfig(`${K8S}cluster: {}\n`).cluster!;
    expect(c).toEqual({
      name: "homelab",
      controlPlanes: 1,
      workers: 1,
      controlPlane: { cpus: 2, memoryMiB: 2048 },
      worker: { cpus: 2, memoryMiB: 2048 },
      network: "192.168.56.0/24",
    });
  });

  it("takes three control planes, per-role sizes and a pinned registry box", () => {
    const c = parseConfig(
      `${K8S}cluster:\n  name: lab\n  controlPlanes: 3\n  workers: 2\n  controlPlane: {cpus: 4, memoryMiB: 4096}\n  worker: {memoryMiB: 3072}\n` +
        "  network: 10.10.0.0/16\n  box: acme/debian-12-k8snode-kubeadm@1.2.3\n  registry: http://boxes.lan:8080\n",
    ).cluster!;
    expect(c.controlPlanes).toBe(3);
    expect(c.controlPlane).toEqual({ cpus: 4, memoryMiB: 4096 });
    expect(c.worker).toEqual({ cpus: 2, memoryMiB: 3072 });
    expect(c.box).toBe("acme/debian-12-k8snode-kubeadm@1.2.3");
  });

  it("refuses 2 control planes with the reason (etcd quorum), at the line of the field", () => {
    const found = problems(`${K8S}cluster:\n  controlPlanes: 2\n`);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^homelab\.yaml:3:\d+: cluster\.controlPlanes: expected 1 or 3 control planes: with 2, etcd needs both members for a quorum/);
  });

  it("reports every problem of the section at once, each with file:line", () => {
    const found = problems(`${K8S}cluster:\n  name: Lab_1\n  controlPlanes: 4\n  workers: -1\n  worker: {memoryMiB: 512}\n  box: latest\n  nodes: 3\n`);
    const where = found.map((l) => /^homelab\.yaml:(\d+):\d+: (\S+):/.exec(l)?.slice(1, 3).join(" "));
    expect(where).toEqual(["3 cluster.name", "4 cluster.controlPlanes", "5 cluster.workers", "6 cluster.worker.memoryMiB", "7 cluster.box", "8 cluster.nodes"]);
  });

  it("checks the network: a CIDR, host bits zero, big enough, clear of the management, pod and service networks", () => {
    expect(problems(`${K8S}cluster: {network: 192.168.56.0}\n`)[0]).toMatch(/cluster\.network: expected an IPv4 network like 192\.168\.56\.0\/24/);
    expect(problems(`${K8S}cluster: {network: 192.168.56.7/24}\n`)[0]).toMatch(/expected the network address 192\.168\.56\.0\/24 \(the host bits must be zero\)/);
    expect(problems(`${K8S}cluster: {network: 10.0.0.0/8}\n`)[0]).toMatch(/a prefix length from \/16 to \/28/);
    expect(problems(`${K8S}cluster: {network: 192.168.56.0/28, workers: 5}\n`)[0]).toMatch(/expected room for 6 node addresses from \.10 on, got 192\.168\.56\.0\/28 \(14 host addresses\)/);
    expect(problems(`${K8S}cluster: {network: 192.168.121.0/24}\n`)[0]).toMatch(/clear of 192\.168\.121\.0\/24 \(vagrant-libvirt's management network\)/);
    expect(problems(`${K8S}cluster: {network: 10.244.3.0/24}\n`)[0]).toMatch(/clear of 10\.244\.0\.0\/16 \(flannel's pod network\)/);
    expect(problems(`${K8S}cluster: {network: 10.100.0.0/16}\n`)[0]).toMatch(/clear of 10\.96\.0\.0\/12 \(kubeadm's service network\)/);
    expect(problems("k8s: {distribution: k3s}\ncluster: {network: 10.43.8.0/24}\n")[0]).toMatch(/clear of 10\.43\.0\.0\/16 \(k3s's service network\)/);
    // kubeadm's networks are not k3s's.
    expect(parseConfig("k8s: {distribution: k3s}\ncluster: {network: 10.244.3.0/24}\n").cluster!.network).toBe("10.244.3.0/24");
  });

  it("needs a k8s section, and box with registry (both or neither)", () => {
    expect(problems("cluster: {}\n")[0]).toMatch(/^homelab\.yaml:1:\d+: cluster: expected a k8s section with a cluster/);
    expect(problems(`${K8S}cluster: {box: a/b@1.0.0}\n`)[0]).toMatch(/cluster\.box: expected a registry URL with box/);
    expect(problems(`${K8S}cluster: {registry: "http://x:1"}\n`)[0]).toMatch(/cluster\.registry: expected a box with registry/);
  });

  it("refuses values that could reach the Vagrantfile or a shell unescaped", () => {
    for (const bad of ['"lab;reboot"', '"lab\\nx"', "'a\"b'", "\"a'b\""]) expect(problems(`${K8S}cluster: {name: ${bad}}\n`)[0]).toMatch(/cluster\.name/);
    expect(problems(`${K8S}cluster: {box: "a/b@1.0.0'", registry: "http://x"}\n`)[0]).toMatch(/cluster\.box/);
    expect(problems(`${K8S}cluster: {box: a/b@1.0.0, registry: "http://x/'; system('x')"}\n`)[0]).toMatch(/cluster\.registry/);
  });
});
