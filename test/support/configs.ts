import { parseConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";

/** The flavours every rendering test walks through. */
export const FLAVOURS: Record<string, string> = {
  "kubeadm-libvirt": "k8s: {distribution: kubeadm}\n",
  "kubeadm-virtualbox": "k8s: {distribution: kubeadm}\nproviders: [virtualbox]\n",
  "kubeadm-both-article-pins": [
    "alpine: {version: 3.21.3, isoChecksum: 'sha256:" + "ab".repeat(32) + "'}",
    "k8s: {distribution: kubeadm, version: v1.31.4}",
    "providers: [libvirt, virtualbox]",
    "",
  ].join("\n"),
  "k3s-libvirt": "k8s: {distribution: k3s}\n",
  "k3s-virtualbox-article-pins": "k8s: {distribution: k3s, version: v1.31.4+k3s1}\nproviders: [virtualbox]\n",
  "k3s-aarch64": "alpine: {arch: aarch64}\nk8s: {distribution: k3s, bake: binary}\n",
  "kubeadm-aarch64-none": "alpine: {arch: aarch64}\nk8s: {distribution: kubeadm, bake: none}\n",
  "no-k8s": "org: acme\nproviders: [libvirt, virtualbox]\n",
  "debian-kubeadm-iso": "debian: {}\nk8s: {distribution: kubeadm}\nproviders: [libvirt, virtualbox]\n",
  "debian-k3s-own-image": [
    "debian: {}",
    "base: {image: /srv/images/debian-12.qcow2, checksum: 'sha256:" + "cd".repeat(32) + "'}",
    "k8s: {distribution: k3s}",
    "",
  ].join("\n"),
  "debian-aarch64-own-image-kubeadm-none": [
    "debian: {arch: aarch64}",
    "base: {image: 'https://images.example.org/debian-12-arm64.qcow2', checksum: 'sha256:" + "ef".repeat(32) + "', ssh: {username: admin, password: s3cret.pass}}",
    "k8s: {distribution: kubeadm, bake: none}",
    "",
  ].join("\n"),
};

export function flavour(name: string): Config {
  return parseConfig(FLAVOURS[name]!, `${name}.yaml`);
}

export function config(yaml: string): Config {
  return parseConfig(yaml, "test.yaml");
}
