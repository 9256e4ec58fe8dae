import type { Config } from "../config/schema.js";
import type { PackerBundle, QemuSourceOptions, VirtualBoxIsoSourceOptions } from "../packer/bundle.js";
import { ref, template } from "../packer/hcl-value.js";
import { alpineBranch, boxBaseName } from "../naming.js";
import { answerFile } from "./alpine-answers.js";
import type { Contributor } from "./contributor.js";

/** The shell provisioner's command: run as root (Packer logs in as root during the build). */
export const ROOT_EXECUTE_COMMAND = "{{ .Vars }} sh '{{ .Path }}'";

/**
 * The boot command: log in to the live ISO as root, bring up DHCP, fetch install.sh from
 * Packer's HTTP server and run it. Everything else lives in install.sh, because typed boot
 * commands are slow and brittle; the typed part stays two lines.
 */
export const BOOT_COMMAND = [
  "root<enter><wait5>",
  "setup-interfaces -a -r && wget -qO /tmp/install.sh http://{{ .HTTPIP }}:{{ .HTTPPort }}/install.sh && sh /tmp/install.sh http://{{ .HTTPIP }}:{{ .HTTPPort }}<enter>",
];

/** Firmware path for aarch64 UEFI guests on Debian/Ubuntu hosts (package qemu-efi-aarch64). */
const AARCH64_FIRMWARE = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd";

export const alpineBase: Contributor = {
  name: "alpine-base",
  order: 10,
  appliesTo: () => true,
  contribute(bundle, config, { asset }) {
    declareVariables(bundle, config);
    bundle.addFile("http/answers", { content: answerFile(config), mode: 0o644 });
    bundle.addFile("http/install.sh", { content: asset("http/install.sh"), mode: 0o755 });
    bundle.addFile("scripts/base-alpine.sh", { content: asset("scripts/base-alpine.sh"), mode: 0o755 });

    // Pinned for Packer >= 1.7, where builders are plugins (the renderer leaves the block out
    // for older Packer, which has them built in).
    bundle.requirePlugin({ name: "vagrant", source: "github.com/hashicorp/vagrant", version: "~> 1.1" });
    if (config.providers.includes("libvirt")) {
      bundle.requirePlugin({ name: "qemu", source: "github.com/hashicorp/qemu", version: "~> 1.1" });
      bundle.addSource({ type: "qemu", name: "alpine", provider: "libvirt", options: qemuOptions(config) });
    }
    if (config.providers.includes("virtualbox")) {
      bundle.requirePlugin({ name: "virtualbox", source: "github.com/hashicorp/virtualbox", version: "~> 1.1" });
      bundle.addSource({ type: "virtualbox-iso", name: "alpine", provider: "virtualbox", options: virtualboxOptions() });
    }

    bundle.addProvisioner({
      step: "base-alpine",
      contributor: "alpine-base",
      type: "shell",
      options: { scripts: ["scripts/base-alpine.sh"], execute_command: ROOT_EXECUTE_COMMAND },
    });
    bundle.addPostProcessor({
      step: "vagrant-box",
      contributor: "alpine-base",
      type: "vagrant",
      options: {
        output: template(ref("var.output_dir"), `/${boxBaseName(config)}-{{ .Provider }}.box`),
        compression_level: 6,
      },
    });
    bundle.addPostProcessor({
      step: "box-checksum",
      contributor: "alpine-base",
      type: "checksum",
      options: {
        checksum_types: ["sha256"],
        output: template(ref("var.output_dir"), "/{{ .BuildName }}-{{ .BuilderType }}.{{ .ChecksumType }}"),
      },
    });
  },
};

function declareVariables(bundle: PackerBundle, config: Config): void {
  const { version, arch, mirror, isoChecksum } = config.alpine;
  const iso = `alpine-virt-${version}-${arch}.iso`;
  bundle
    .addVariable("alpine_version", { type: "string", description: "Pinned Alpine point release." }, version)
    .addVariable("iso_url", { type: "string", description: "URL of the alpine-virt ISO." },
      `${mirror.replace(/\/+$/, "")}/v${alpineBranch(version)}/releases/${arch}/${iso}`)
    .addVariable("iso_checksum", { type: "string", description: "Pinned checksum of the ISO (sha256:<hex>)." }, isoChecksum)
    .addVariable("disk_size_mib", { type: "number", description: "Virtual disk size in MiB." }, config.vm.diskSizeMiB)
    .addVariable("memory", { type: "number", description: "Build VM memory in MiB." }, config.vm.memoryMiB)
    .addVariable("cpus", { type: "number", description: "Build VM virtual CPUs." }, config.vm.cpus)
    .addVariable("headless", { type: "bool", description: "Run the build VM without a window.", default: true })
    .addVariable("output_dir", { type: "string", description: "Where boxes and checksums are written.", default: "output" })
    .addVariable("vm_output_dir", { type: "string", description: "Scratch directory for the build VM's disk.", default: "output-vm" });
  if (config.providers.includes("libvirt")) {
    bundle
      .addVariable("accelerator", {
        type: "string",
        description: "qemu accelerator: kvm (Linux), hvf (macOS) or tcg (software; `homelab build` picks by trying KVM).",
        default: "kvm",
      })
      .addVariable("cpu_model", {
        type: "string",
        description: "qemu -cpu model: host with KVM/HVF, max with TCG.",
        default: "host",
      });
    if (arch === "aarch64") {
      bundle.addVariable("efi_firmware", {
        type: "string",
        description: "UEFI firmware for aarch64 guests (Debian: qemu-efi-aarch64).",
        default: AARCH64_FIRMWARE,
      });
    }
  }
}

function commonOptions() {
  return {
    iso_url: ref("var.iso_url"),
    iso_checksum: ref("var.iso_checksum"),
    http_directory: "http",
    boot_wait: "30s",
    boot_command: BOOT_COMMAND,
    communicator: "ssh",
    // The documented Vagrant default credentials, used only while building (see install.sh).
    ssh_username: "root",
    ssh_password: "vagrant",
    ssh_timeout: "30m",
    shutdown_command: "poweroff",
    headless: ref("var.headless"),
    cpus: ref("var.cpus"),
    memory: ref("var.memory"),
    vm_name: "alpine",
  } as const;
}

function qemuOptions(config: Config): QemuSourceOptions {
  const base = { ...commonOptions(), output_directory: template(ref("var.vm_output_dir"), "/libvirt") };
  const qemu: QemuSourceOptions = {
    ...base,
    disk_size: template(ref("var.disk_size_mib"), "M"),
    accelerator: ref("var.accelerator"),
    format: "qcow2",
    disk_interface: "virtio",
    net_device: "virtio-net",
    disk_compression: true,
    disk_discard: "unmap",
    disk_detect_zeroes: "unmap",
  };
  if (config.alpine.arch === "aarch64") {
    return {
      ...qemu,
      qemu_binary: "qemu-system-aarch64",
      machine_type: "virt",
      // The virt machine has no display or keyboard by default: the boot command is typed
      // over VNC, so it needs a GPU and a USB keyboard. UEFI via -bios (Packer 1.6 has no
      // `firmware` option).
      qemuargs: [
        ["-cpu", ref("var.cpu_model")],
        ["-bios", ref("var.efi_firmware")],
        ["-device", "virtio-gpu-pci"],
        ["-device", "qemu-xhci"],
        ["-device", "usb-kbd"],
      ],
    };
  }
  return { ...qemu, qemu_binary: "qemu-system-x86_64", qemuargs: [["-cpu", ref("var.cpu_model")]] };
}

function virtualboxOptions(): VirtualBoxIsoSourceOptions {
  return {
    ...commonOptions(),
    output_directory: template(ref("var.vm_output_dir"), "/virtualbox"),
    disk_size: ref("var.disk_size_mib"),
    // VirtualBox has no Alpine type; Linux 2.6+/64-bit is what Alpine templates use.
    guest_os_type: "Linux26_64",
    hard_drive_interface: "sata",
    guest_additions_mode: "disable",
    format: "ovf",
  };
}
