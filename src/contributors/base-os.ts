import type { Config } from "../config/schema.js";
import { boxBaseName } from "../naming.js";
import { archOf, osFamily, type OsFamily } from "../os/index.js";
import type { CommonSourceOptions, PackerBundle, QemuSourceOptions, VirtualBoxIsoSourceOptions } from "../bundle/bundle.js";
import { ref, template } from "../bundle/hcl-value.js";
import { communicatorFor } from "./communicator.js";
import type { Contributor } from "./contributor.js";
import { addScriptStep } from "./script-step.js";

const NAME = "base-os";

/** Firmware path for aarch64 UEFI guests on Debian/Ubuntu hosts (package qemu-efi-aarch64). */
const AARCH64_FIRMWARE = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd";

/**
 * The base OS (order 10): one builder per provider, installed from the family's ISO (or taken
 * from a bring-your-own image), made Vagrant-ready by the family's base script, and packaged as
 * a .box with its checksum. One contributor for every family, because the pipeline refuses two
 * contributors with the same order.
 */
export const baseOs: Contributor = {
  name: NAME,
  order: 10,
  appliesTo: () => true,
  contribute(bundle, config, context) {
    const os = osFamily(config);
    const source = os.installSource;
    // The config loader refuses a config without one (it asks for base.image).
    if (source === undefined) throw new Error(`${os.displayName} on ${os.arch}: ${os.noInstaller ?? "no installer"}`);
    declareVariables(bundle, config);
    source.prepare(bundle, context);

    // Pinned for Packer >= 1.7, where builders are plugins (the renderer leaves the block out
    // for older Packer, which has them built in).
    bundle.requirePlugin({ name: "vagrant", source: "github.com/hashicorp/vagrant", version: "~> 1.1" });
    const common = { ...commonOptions(config, os), ...source.options() };
    if (config.providers.includes("libvirt")) {
      bundle.requirePlugin({ name: "qemu", source: "github.com/hashicorp/qemu", version: "~> 1.1" });
      const options = { ...qemuOptions(config, common), ...source.qemuOptions?.() };
      bundle.addSource({ type: "qemu", name: os.id, provider: "libvirt", options });
    }
    if (config.providers.includes("virtualbox")) {
      bundle.requirePlugin({ name: "virtualbox", source: "github.com/hashicorp/virtualbox", version: "~> 1.1" });
      bundle.addSource({ type: "virtualbox-iso", name: os.id, provider: "virtualbox", options: virtualboxOptions(os, common) });
    }

    addScriptStep(bundle, config, context, { step: os.baseStep, script: "base", contributor: NAME });
    bundle.addPostProcessor({
      step: "vagrant-box",
      contributor: NAME,
      type: "vagrant",
      options: {
        output: template(ref("var.output_dir"), `/${boxBaseName(config)}-{{ .Provider }}.box`),
        compression_level: ref("var.box_compression_level"),
      },
    });
    bundle.addPostProcessor({
      step: "box-checksum",
      contributor: NAME,
      type: "checksum",
      options: {
        checksum_types: ["sha256"],
        output: template(ref("var.output_dir"), "/{{ .BuildName }}-{{ .BuilderType }}.{{ .ChecksumType }}"),
      },
    });
  },
};

function declareVariables(bundle: PackerBundle, config: Config): void {
  bundle
    .addVariable("disk_size_mib", { type: "number", description: "Virtual disk size in MiB." }, config.vm.diskSizeMiB)
    .addVariable("memory", { type: "number", description: "Build VM memory in MiB." }, config.vm.memoryMiB)
    .addVariable("cpus", { type: "number", description: "Build VM virtual CPUs." }, config.vm.cpus)
    .addVariable("headless", { type: "bool", description: "Run the build VM without a window.", default: true })
    .addVariable("output_dir", { type: "string", description: "Where boxes and checksums are written.", default: "output" })
    .addVariable("vm_output_dir", { type: "string", description: "Scratch directory for the build VM's disk.", default: "output-vm" })
    .addVariable("box_compression_level", {
      type: "number",
      description: "gzip level of the .box (1 fast and larger, 9 slow and smaller).",
      default: 6,
    });
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
    if (archOf(config) === "aarch64") {
      bundle.addVariable("efi_firmware", {
        type: "string",
        description: "UEFI firmware for aarch64 guests (Debian: qemu-efi-aarch64).",
        default: AARCH64_FIRMWARE,
      });
    }
  }
}

function commonOptions(config: Config, os: OsFamily): CommonSourceOptions {
  const login = communicatorFor(config);
  return {
    communicator: "ssh",
    // The documented Vagrant default credentials (or base.ssh), used while building.
    ssh_username: login.username,
    ssh_password: login.password,
    ssh_timeout: "30m",
    shutdown_command: login.shutdownCommand,
    headless: ref("var.headless"),
    cpus: ref("var.cpus"),
    memory: ref("var.memory"),
    vm_name: os.id,
  };
}

function qemuOptions(config: Config, common: CommonSourceOptions): QemuSourceOptions {
  const qemu: QemuSourceOptions = {
    ...common,
    output_directory: template(ref("var.vm_output_dir"), "/libvirt"),
    disk_size: template(ref("var.disk_size_mib"), "M"),
    accelerator: ref("var.accelerator"),
    format: "qcow2",
    disk_interface: "virtio",
    net_device: "virtio-net",
    disk_compression: true,
    disk_discard: "unmap",
    disk_detect_zeroes: "unmap",
  };
  if (archOf(config) === "aarch64") {
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

function virtualboxOptions(os: OsFamily, common: CommonSourceOptions): VirtualBoxIsoSourceOptions {
  return {
    ...common,
    output_directory: template(ref("var.vm_output_dir"), "/virtualbox"),
    disk_size: ref("var.disk_size_mib"),
    guest_os_type: os.guestOsType,
    hard_drive_interface: "sata",
    guest_additions_mode: "disable",
    format: "ovf",
  };
}
