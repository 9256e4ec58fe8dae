import { pathToFileURL } from "node:url";
import { VERSION } from "../version.js";
import type { Topology } from "./topology.js";

/** Where the nodes' box comes from. */
export type BoxSource =
  /** A box `homelab build` made: added from its file, checked against the build's sha256. */
  | { kind: "build"; name: string; file: string; sha256: string; buildHash: string }
  /** A pinned box from a Vagrant catalog server (`homelab box serve`). */
  | { kind: "registry"; name: string; version: string; registry: string };

/** kvm on a machine whose /dev/kvm runs guests; qemu (TCG, emulated) elsewhere. */
export type Accel = "kvm" | "tcg";

export const VAGRANTFILE = "Vagrantfile";

/** libvirt's names for the cluster's objects: domains `homelab-<node>`, the network `homelab-<cluster>`. */
export const DOMAIN_PREFIX = "homelab-";
export function privateNetworkName(t: Topology): string {
  return `homelab-${t.name}`;
}

/** The Vagrant box name homelab gives a build's box (the build hash in it: a rebuild is a new box). */
export function buildBoxName(boxName: string, buildHash: string): string {
  return `${boxName}-${buildHash.slice(0, 12)}`;
}

/**
 * The cluster's Vagrantfile: standalone (plain `vagrant up` in its directory does the same as
 * homelab's VM phase), one machine per node, each with its fixed private address on an isolated
 * libvirt network. Every value comes from the validated config or from homelab itself; strings
 * still go through `ruby()` so that no value can end a Ruby string literal.
 */
export function renderVagrantfile(t: Topology, box: BoxSource, accel: Accel): string {
  const nodes = t.nodes
    .map((n) => `  { name: ${ruby(n.name)}, role: ${ruby(n.role)}, ip: ${ruby(n.ip)}, cpus: ${int(n.cpus)}, memory: ${int(n.memoryMiB)} },`)
    .join("\n");
  const boxLines =
    box.kind === "build"
      ? [
          `  # The box of homelab build ${box.buildHash.slice(0, 12)}, added from its file and checked against the build's sha256.`,
          `  config.vm.box = ${ruby(box.name)}`,
          `  config.vm.box_url = ${ruby(pathToFileURL(box.file).href)}`,
          `  config.vm.box_download_checksum_type = "sha256"`,
          `  config.vm.box_download_checksum = ${ruby(box.sha256)}`,
        ]
      : [
          `  # A pinned box from the registry (its catalog gives the sha256 Vagrant checks).`,
          `  config.vm.box = ${ruby(box.name)}`,
          `  config.vm.box_url = ${ruby(`${box.registry.replace(/\/+$/, "")}/${box.name}`)}`,
          `  config.vm.box_version = ${ruby(`= ${box.version}`)}`,
        ];
  const cpu =
    accel === "kvm"
      ? [`    libvirt.driver = "kvm"`, `    libvirt.cpu_mode = "host-passthrough"`]
      : [
          `    # No usable KVM when homelab wrote this: emulated (TCG), with a CPU model TCG provides.`,
          `    libvirt.driver = "qemu"`,
          `    libvirt.cpu_mode = "custom"`,
          `    libvirt.cpu_model = "qemu64"`,
        ];
  return `# -*- mode: ruby -*-
# Cluster ${ruby(t.name)} (${t.distribution}), written by homelab ${VERSION} (\`homelab cluster up\`).
# homelab rewrites this file on every \`up\`: change homelab.yaml's cluster section instead.
# It is standalone: \`vagrant up --provider libvirt\` here brings up the same nodes (homelab then
# bootstraps Kubernetes over SSH), \`vagrant destroy -f\` removes them.
#
# Each node has a fixed address on the private network ${t.network}; Kubernetes uses only that
# one (the management interface is Vagrant's, for SSH).

NODES = [
${nodes}
].freeze

Vagrant.configure("2") do |config|
${boxLines.join("\n")}
  # Nothing to sync, and the box needs no network to boot.
  config.vm.synced_folder ".", "/vagrant", disabled: true

  config.vm.provider :libvirt do |libvirt|
${cpu.join("\n")}
    # Domains are named homelab-<node>.
    libvirt.default_prefix = ${ruby(DOMAIN_PREFIX)}
    # vagrant-libvirt's management network (SSH only) has no route out: the cluster runs air-gapped
    # from what the box carries. It is shared with other Vagrant projects: destroy keeps it.
    libvirt.management_network_mode = "none"
    libvirt.management_network_keep = true
  end

  NODES.each do |n|
    config.vm.define n[:name] do |node|
      node.vm.hostname = n[:name]
      node.vm.network :private_network,
        ip: n[:ip],
        libvirt__network_name: ${ruby(privateNetworkName(t))},
        libvirt__netmask: ${ruby(t.netmask)},
        libvirt__forward_mode: "none",
        libvirt__dhcp_enabled: false
      node.vm.provider :libvirt do |libvirt|
        libvirt.cpus = n[:cpus]
        libvirt.memory = n[:memory]
      end
    end
  end
end
`;
}

/** A Ruby single-quoted string: only \\ and \' are special there, and nothing is interpolated. */
export function ruby(s: string): string {
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(s)) throw new Error(`refusing a control character in a Vagrantfile string: ${JSON.stringify(s)}`);
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
  return String(n);
}
