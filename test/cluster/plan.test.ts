import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDocument, parseAllDocuments } from "yaml";
import { parseConfig } from "../../src/config/load.js";
import { caCertHash, factsScript, ifaceWith, kubeconfigWithServer, parseFacts, parseNodeRows } from "../../src/cluster/node-output.js";
import {
  flannelManifest, k3sConfig, kubeadmInitCommand, kubeadmInitConfig, kubeadmJoinCommand, kubeadmJoinConfig, planSteps,
} from "../../src/cluster/plan.js";
import { newSecrets } from "../../src/cluster/state.js";
import { topologyOf, type Topology } from "../../src/cluster/topology.js";
import { needTool } from "../support/tools.js";

const topo = (cluster: string, dist = "kubeadm"): Topology => topologyOf(parseConfig(`debian: {}\nk8s: {distribution: ${dist}}\ncluster: ${cluster}\n`));
const SETTINGS = { kubernetesVersion: "v1.36.5", cgroupDriver: "systemd" as const, podSubnet: "10.244.0.0/16" };
const secrets = newSecrets();

/** Every YAML document of a config, as plain data. */
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Record<string, any>);

describe("the bootstrap plan", () => {
  it("orders the steps: facts on all, init (+ CNI) on the first control plane, control planes one by one, workers together, then Ready", () => {
    const t = topo("{name: lab, controlPlanes: 3, workers: 2}");
    expect(planSteps(t).map((s) => `${s.id} ${s.nodes.join(",")}${s.parallelGroup ? " (parallel)" : ""}`)).toEqual([
      "facts lab-cp1,lab-cp2,lab-cp3,lab-w1,lab-w2",
      "init lab-cp1",
      "cni lab-cp1",
      "join:lab-cp2 lab-cp2",
      "join:lab-cp3 lab-cp3",
      "join:lab-w1 lab-w1 (parallel)",
      "join:lab-w2 lab-w2 (parallel)",
      "kubeconfig lab-cp1",
      "ready lab-cp1",
      "images lab-cp1,lab-cp2,lab-cp3,lab-w1,lab-w2",
    ]);
    // k3s brings its own flannel: no CNI step.
    expect(planSteps(topo("{}", "k3s")).map((s) => s.id)).toEqual(["facts", "init", "join:homelab-w1", "kubeconfig", "ready", "images"]);
  });

  it("kubeadm init: the private address as advertiseAddress, controlPlaneEndpoint and the kubelet's node-ip (v1beta4 name/value args)", () => {
    const t = topo("{name: lab, workers: 1, network: 10.20.0.0/24}");
    const [init, cluster, kubelet] = docs(kubeadmInitConfig(t, secrets, { ...SETTINGS, podSubnet: "10.55.0.0/16" }));
    expect(init).toMatchObject({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "InitConfiguration",
      bootstrapTokens: [{ token: secrets.token, ttl: "24h0m0s", usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] }],
      localAPIEndpoint: { advertiseAddress: "10.20.0.10", bindPort: 6443 },
      nodeRegistration: { name: "lab-cp1", criSocket: "unix:///run/containerd/containerd.sock", kubeletExtraArgs: [{ name: "node-ip", value: "10.20.0.10" }] },
    });
    // One control plane: no certificate key, no --upload-certs.
    expect(init).not.toHaveProperty("certificateKey");
    expect(kubeadmInitCommand(t)).toEqual(["kubeadm", "init", "--config", "/etc/homelab/cluster/kubeadm-init.yaml"]);
    expect(cluster).toEqual({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "ClusterConfiguration",
      clusterName: "lab",
      kubernetesVersion: "v1.36.5",
      controlPlaneEndpoint: "10.20.0.10:6443",
      apiServer: { certSANs: ["10.20.0.10"] },
      networking: { podSubnet: "10.55.0.0/16", serviceSubnet: "10.96.0.0/12" },
    });
    expect(kubelet).toEqual({ apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", cgroupDriver: "systemd" });
  });

  it("kubeadm HA: the certificate key in the init config and --upload-certs; each further control plane joins with its own address and the key", () => {
    const t = topo("{name: lab, controlPlanes: 3, workers: 1}");
    const [init, cluster] = docs(kubeadmInitConfig(t, secrets, SETTINGS));
    expect(init!.certificateKey).toBe(secrets.certificateKey);
    expect(secrets.certificateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(kubeadmInitCommand(t)).toEqual(["kubeadm", "init", "--config", "/etc/homelab/cluster/kubeadm-init.yaml", "--upload-certs"]);
    expect(cluster!.apiServer.certSANs).toEqual(["192.168.56.10", "192.168.56.11", "192.168.56.12"]);
    const cp2 = t.nodes[1]!;
    const [join2] = docs(kubeadmJoinConfig(t, cp2, secrets, "sha256:abc"));
    expect(join2).toEqual({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "JoinConfiguration",
      discovery: { bootstrapToken: { apiServerEndpoint: "192.168.56.10:6443", token: secrets.token, caCertHashes: ["sha256:abc"] } },
      controlPlane: { localAPIEndpoint: { advertiseAddress: "192.168.56.11", bindPort: 6443 }, certificateKey: secrets.certificateKey },
      nodeRegistration: { name: "lab-cp2", criSocket: "unix:///run/containerd/containerd.sock", kubeletExtraArgs: [{ name: "node-ip", value: "192.168.56.11" }] },
    });
    const [joinW] = docs(kubeadmJoinConfig(t, t.nodes[3]!, secrets, "sha256:abc"));
    expect(joinW).not.toHaveProperty("controlPlane");
    expect(joinW!.nodeRegistration.kubeletExtraArgs).toEqual([{ name: "node-ip", value: "192.168.56.13" }]);
    expect(kubeadmJoinCommand()).toEqual(["kubeadm", "join", "--config", "/etc/homelab/cluster/kubeadm-join.yaml"]);
  });

  it("the bootstrap token has kubeadm's shape and differs per cluster", () => {
    const a = newSecrets();
    expect(a.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(newSecrets().token).not.toBe(a.token);
  });

  it("k3s: config.yaml per node: node-ip, flannel-iface by name, advertise-address on servers, server URL + token on the others", () => {
    const t = topo("{name: lab, controlPlanes: 3, workers: 1}", "k3s");
    const cfg = (i: number) => parseDocument(k3sConfig(t, t.nodes[i]!, secrets, "ens6")).toJS();
    expect(cfg(0)).toEqual({
      "node-name": "lab-cp1", "node-ip": "192.168.56.10", "flannel-iface": "ens6", token: secrets.token,
      "advertise-address": "192.168.56.10", "tls-san": ["192.168.56.10"], "write-kubeconfig-mode": "0600", "cluster-init": true,
    });
    expect(cfg(1)).toMatchObject({ "node-ip": "192.168.56.11", "advertise-address": "192.168.56.11", server: "https://192.168.56.10:6443" });
    expect(cfg(1)).not.toHaveProperty("cluster-init");
    expect(cfg(3)).toEqual({ "node-name": "lab-w1", "node-ip": "192.168.56.13", "flannel-iface": "ens6", token: secrets.token, server: "https://192.168.56.10:6443" });
    // A single server keeps k3s's default datastore.
    const single = topo("{}", "k3s");
    expect(parseDocument(k3sConfig(single, single.nodes[0]!, secrets, "eth1")).toJS()).not.toHaveProperty("cluster-init");
  });
});

/**
 * flannel's kube-flannel.yml, the parts homelab edits, as upstream ships it
 * (flannel-io/flannel, Documentation/kube-flannel.yml, v0.26.x): the DaemonSet's container args and
 * net-conf.json in the ConfigMap.
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

describe("the CNI manifest", () => {
  it("gets every node's private address as --iface (flanneld takes the first it has) and the pod network", () => {
    const t = topo("{name: lab, workers: 2}");
    const out = flannelManifest(FLANNEL, t, "10.55.0.0/16") as string;
    const [cm, ds] = parseAllDocuments(out).map((d) => d.toJS());
    expect(ds.spec.template.spec.containers[0].args).toEqual(["--ip-masq", "--kube-subnet-mgr", "--iface=192.168.56.10", "--iface=192.168.56.11", "--iface=192.168.56.12"]);
    expect(JSON.parse(cm.data["net-conf.json"]).Network).toBe("10.55.0.0/16");
    // Applied twice (a resumed step), it does not pile up arguments.
    expect(flannelManifest(out, t, "10.55.0.0/16")).toBe(out);
    expect(flannelManifest("kind: ConfigMap\n", t, "10.244.0.0/16")).toEqual({ problem: expect.stringMatching(/kube-subnet-mgr/) });
  });
});

describe("reading what the nodes answer", () => {
  it("runs the facts script for real and reads it back: host name, the interface by address, default route, images", () => {
    // Loopback only: this node is 127.0.0.1, the other one 127.0.0.3, where no sshd listens.
    const base = topo("{name: lab}");
    const t: Topology = { ...base, nodes: [{ ...base.nodes[0]!, ip: "127.0.0.1" }, { ...base.nodes[1]!, ip: "127.0.0.3" }] };
    const script = factsScript(t, t.nodes[0]!, "printf 'sha256:aaa\\nsha256:bbb\\n'");
    const facts = parseFacts(execFileSync("sh", ["-c", script], { encoding: "utf8" }));
    expect(facts.hostname).toBe(execFileSync("hostname", { encoding: "utf8" }).trim());
    expect(ifaceWith(facts, "127.0.0.1")).toBe("lo");
    expect(facts.images).toEqual(["sha256:aaa", "sha256:bbb"]);
    expect(facts.unreachable).toEqual(["127.0.0.3"]);
    const failed = parseFacts(execFileSync("sh", ["-c", factsScript(t, t.nodes[1]!, "false")], { encoding: "utf8" }));
    expect(failed.images).toBeUndefined();
  }, 30_000);

  it("finds the private interface by its address whatever its name; reads ip's one-line format", () => {
    const f = parseFacts("hostname=lab-w1\naddr=lo 127.0.0.1/8\naddr=eth0 192.168.121.45/24\naddr=ens7 192.168.56.11/24\ndefault=eth0\nreach=192.168.56.10 yes\n");
    expect(ifaceWith(f, "192.168.56.11")).toBe("ens7");
    expect(ifaceWith(f, "192.168.56.12")).toBeUndefined();
    expect(f.defaultIface).toBe("eth0");
    expect(f.unreachable).toEqual([]);
  });

  it("reads `kubectl get nodes -o wide --no-headers` (OS-IMAGE has spaces)", () => {
    const out =
      "lab-cp1   Ready      control-plane   5m    v1.36.5   192.168.56.10   <none>   Debian GNU/Linux 12 (bookworm)   6.1.0-28-amd64   containerd://1.6.20\n" +
      "lab-w1    NotReady   <none>          1m    v1.36.5   192.168.56.11   <none>   Debian GNU/Linux 12 (bookworm)   6.1.0-28-amd64   containerd://1.6.20\n";
    expect(parseNodeRows(out)).toEqual([
      { name: "lab-cp1", status: "Ready", internalIp: "192.168.56.10" },
      { name: "lab-w1", status: "NotReady", internalIp: "192.168.56.11" },
    ]);
  });

  it.skipIf(!needTool("openssl"))("computes the CA hash as kubeadm's documented openssl pipeline does", () => {
    const dir = mkdtempSync(join(tmpdir(), "homelab-ca-"));
    try {
      execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kubernetes", "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.crt"), "-days", "1"], { stdio: "ignore" });
      // kubernetes.io, kubeadm join: "openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl rsa -pubin -outform der 2>/dev/null | openssl dgst -sha256 -hex | sed 's/^.* //'"
      const documented = execFileSync("sh", ["-c", `openssl x509 -pubkey -in ${dir}/ca.crt | openssl rsa -pubin -outform der 2>/dev/null | openssl dgst -sha256 -hex | sed 's/^.* //'`], { encoding: "utf8" }).trim();
      expect(caCertHash(readFileSync(join(dir, "ca.crt"), "utf8"))).toBe(`sha256:${documented}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("points every cluster of a kubeconfig at the private API address, keeping the rest", () => {
    const admin = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://127.0.0.1:6443\n  name: default\ncontexts: []\nusers:\n- name: admin\n  user:\n    client-key-data: S0VZ\n";
    const out = kubeconfigWithServer(admin, "https://192.168.56.10:6443") as string;
    const doc = parseDocument(out).toJS();
    expect(doc.clusters[0].cluster).toEqual({ "certificate-authority-data": "Q0E=", server: "https://192.168.56.10:6443" });
    expect(doc.users[0].user["client-key-data"]).toBe("S0VZ");
    expect(kubeconfigWithServer("apiVersion: v1\n", "https://x:1")).toEqual({ problem: "no clusters in it" });
    void writeFileSync;
  });
});
