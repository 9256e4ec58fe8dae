import type { HclValue, Val } from "./hcl-value.js";

/**
 * The typed Packer bundle that contributors fill and the renderer writes. Option names are
 * Packer's own (snake_case) so the model maps 1:1 to HCL; they are declared per block type,
 * so a misspelt or unsupported option is a compile error, not a Packer run-time surprise.
 */

export type VariableType = "string" | "number" | "bool" | "list(string)";

export interface Variable {
  type: VariableType;
  description: string;
  default?: HclValue;
  sensitive?: boolean;
}

/** Options shared by the ISO/disk builders homelab uses. */
export interface CommonSourceOptions {
  iso_url?: Val<string>;
  iso_checksum?: Val<string>;
  http_directory?: string;
  boot_wait?: Val<string>;
  boot_command?: Val<string>[];
  communicator?: "ssh" | "none";
  ssh_username?: Val<string>;
  ssh_password?: Val<string>;
  ssh_private_key_file?: Val<string>;
  ssh_timeout?: string;
  ssh_handshake_attempts?: number;
  shutdown_command?: string;
  shutdown_timeout?: string;
  vm_name?: Val<string>;
  output_directory?: Val<string>;
  headless?: Val<boolean>;
  cpus?: Val<number>;
  memory?: Val<number>;
}

export interface QemuSourceOptions extends CommonSourceOptions {
  /** A size string such as "20480M". */
  disk_size?: Val<string>;
  accelerator?: Val<"kvm" | "tcg" | "hvf" | "whpx" | "none">;
  qemu_binary?: string;
  machine_type?: string;
  format?: "qcow2" | "raw";
  disk_interface?: "virtio" | "virtio-scsi" | "ide" | "scsi";
  net_device?: "virtio-net" | "e1000";
  disk_image?: boolean;
  disk_compression?: boolean;
  disk_discard?: "unmap" | "ignore";
  disk_detect_zeroes?: "unmap" | "on" | "off";
  qemuargs?: Val<string>[][];
  use_default_display?: boolean;
}

export interface VirtualBoxIsoSourceOptions extends CommonSourceOptions {
  guest_os_type: string;
  /** Size in MiB (a number, unlike qemu's size string). */
  disk_size?: Val<number>;
  hard_drive_interface?: "ide" | "sata" | "scsi" | "pcie";
  guest_additions_mode?: "upload" | "attach" | "disable";
  firmware?: "bios" | "efi";
  format?: "ovf" | "ova";
  vboxmanage?: Val<string>[][];
}

export type Source =
  | { type: "qemu"; name: string; provider: "libvirt"; options: QemuSourceOptions }
  | { type: "virtualbox-iso"; name: string; provider: "virtualbox"; options: VirtualBoxIsoSourceOptions };

export interface ShellProvisionerOptions {
  scripts?: string[];
  inline?: string[];
  environment_vars?: Val<string>[];
  execute_command?: string;
  expect_disconnect?: boolean;
  pause_before?: string;
  valid_exit_codes?: number[];
  max_retries?: number;
  timeout?: string;
}

export interface FileProvisionerOptions {
  source: string;
  destination: string;
  direction?: "upload" | "download";
}

interface StepMeta {
  /** Stable step id (not rendered into Packer options; shown as a comment and used in tests). */
  step: string;
  /** The contributor that added the step. */
  contributor: string;
}

export type Provisioner =
  | (StepMeta & { type: "shell"; options: ShellProvisionerOptions })
  | (StepMeta & { type: "file"; options: FileProvisionerOptions });

export interface VagrantPostProcessorOptions {
  output?: Val<string>;
  compression_level?: Val<number>;
  keep_input_artifact?: boolean;
  provider_override?: "libvirt" | "virtualbox";
}

export interface ChecksumPostProcessorOptions {
  checksum_types: ("md5" | "sha1" | "sha224" | "sha256" | "sha384" | "sha512")[];
  output?: Val<string>;
}

export interface ManifestPostProcessorOptions {
  output?: Val<string>;
  strip_path?: boolean;
  custom_data?: Record<string, Val<string>>;
}

export type PostProcessor =
  | (StepMeta & { type: "vagrant"; options: VagrantPostProcessorOptions })
  | (StepMeta & { type: "checksum"; options: ChecksumPostProcessorOptions })
  | (StepMeta & { type: "manifest"; options: ManifestPostProcessorOptions });

/** A file the bundle carries (scripts/, http/), relative to the bundle root. */
export interface BundleFile {
  content: string | Uint8Array;
  mode: 0o644 | 0o755;
}

export interface RequiredPlugin {
  name: string;
  source: string;
  version: string;
}

/**
 * What contributors fill. Contributors only add: adding a name that is already there is an
 * error, so two contributors can never silently overwrite each other.
 */
export class PackerBundle {
  readonly buildName: string;
  readonly variables = new Map<string, Variable>();
  /** Values for the variables, rendered into `homelab.auto.pkrvars.hcl` (the pins). */
  readonly values = new Map<string, HclValue>();
  readonly locals = new Map<string, HclValue>();
  readonly sources: Source[] = [];
  readonly provisioners: Provisioner[] = [];
  /** One post-processor chain, run in order on each build's artifact. */
  readonly postProcessors: PostProcessor[] = [];
  readonly files = new Map<string, BundleFile>();
  readonly requiredPlugins = new Map<string, RequiredPlugin>();

  constructor(buildName = "homelab") {
    this.buildName = buildName;
  }

  addVariable(name: string, variable: Variable, value?: HclValue): this {
    claim(this.variables, name, variable, "variable");
    if (value !== undefined) this.values.set(name, value);
    return this;
  }

  addLocal(name: string, value: HclValue): this {
    claim(this.locals, name, value, "local");
    return this;
  }

  addSource(source: Source): this {
    if (this.sources.some((s) => s.type === source.type && s.name === source.name)) {
      throw new Error(`source "${source.type}" "${source.name}" is already in the bundle`);
    }
    this.sources.push(source);
    return this;
  }

  addProvisioner(provisioner: Provisioner): this {
    assertNewStep(this, provisioner.step);
    this.provisioners.push(provisioner);
    return this;
  }

  addPostProcessor(postProcessor: PostProcessor): this {
    assertNewStep(this, postProcessor.step);
    this.postProcessors.push(postProcessor);
    return this;
  }

  addFile(path: string, file: BundleFile): this {
    if (!/^(scripts|http)\/[A-Za-z0-9._/-]+$/.test(path) || path.includes("..")) {
      throw new Error(`bundle file path must be under scripts/ or http/: ${JSON.stringify(path)}`);
    }
    claim(this.files, path, file, "file");
    return this;
  }

  requirePlugin(plugin: RequiredPlugin): this {
    const existing = this.requiredPlugins.get(plugin.name);
    if (existing && (existing.source !== plugin.source || existing.version !== plugin.version)) {
      throw new Error(`plugin ${plugin.name} is required twice with different pins`);
    }
    this.requiredPlugins.set(plugin.name, plugin);
    return this;
  }

  /** Step ids in run order: provisioners, then post-processors. */
  steps(): string[] {
    return [...this.provisioners.map((p) => p.step), ...this.postProcessors.map((p) => p.step)];
  }
}

function claim<T>(map: Map<string, T>, name: string, value: T, what: string): void {
  if (map.has(name)) throw new Error(`${what} ${JSON.stringify(name)} is already in the bundle`);
  map.set(name, value);
}

function assertNewStep(bundle: PackerBundle, step: string): void {
  if (bundle.steps().includes(step)) throw new Error(`step ${JSON.stringify(step)} is already in the bundle`);
}
