import { z } from "zod";
import { DEFAULTS } from "./defaults.js";

/**
 * The homelab.yaml schema. Every string that can reach a shell script, an HCL file or a box
 * name is constrained to a strict pattern here, so that nothing downstream ever has to guess
 * whether a value is safe: quotes, `${`, `;`, spaces and newlines are rejected at load time.
 */

const ALPINE_VERSION = /^3\.(\d{1,2})\.(\d{1,2})$/;
const KUBEADM_VERSION = /^v1\.(\d{1,2})\.(\d{1,3})$/;
const K3S_VERSION = /^v1\.(\d{1,2})\.(\d{1,3})\+k3s(\d{1,2})$/;
const SHA256 = /^sha256:[0-9a-f]{64}$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const ORG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
// A plain http(s) URL with no quotes, spaces, `$` or backslashes (it ends up inside HCL and shell).
const SAFE_URL = /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(?:\/[A-Za-z0-9._~%/+-]*)?$/;

export const ARCHES = ["x86_64", "aarch64"] as const;
export const DISTRIBUTIONS = ["kubeadm", "k3s"] as const;
export const BAKE_MODES = ["airgap", "binary", "none"] as const;
export const PROVIDERS = ["libvirt", "virtualbox"] as const;
/** The pod network baked into a kubeadm box; `none` leaves the CNI to the cluster's owner. */
export const CNIS = ["flannel", "none"] as const;

export type Arch = (typeof ARCHES)[number];
export type Distribution = (typeof DISTRIBUTIONS)[number];
export type BakeMode = (typeof BAKE_MODES)[number];
export type Provider = (typeof PROVIDERS)[number];
export type Cni = (typeof CNIS)[number];
export type Family = "alpine" | "debian";

const alpineSchema = z
  .strictObject({
    version: z
      .string()
      .regex(ALPINE_VERSION, "a pinned Alpine point release like 3.24.1")
      .default(DEFAULTS.alpine.version)
      .describe("Pinned Alpine point release (MAJOR.MINOR.PATCH), e.g. 3.24.1."),
    arch: z.enum(ARCHES).default("x86_64").describe("CPU architecture of the image."),
    isoChecksum: z
      .string()
      .regex(SHA256, "sha256:<64 lowercase hex digits>")
      .optional()
      .describe(
        "sha256 of the alpine-virt ISO. Optional for releases homelab knows; required otherwise " +
          "(`homelab versions bump` fills it in).",
      ),
    mirror: z
      .string()
      .regex(SAFE_URL, "an http(s) URL without spaces or quotes")
      .default(DEFAULTS.alpine.mirror)
      .describe("Alpine mirror base URL (the directory holding v3.x/)."),
  })
  .describe("The Alpine Linux base.");

const debianSchema = z
  .strictObject({
    // `release: 12` (a YAML number) means the same as "12": accept both.
    release: z
      .union([z.literal("12"), z.literal(12).transform(() => "12" as const)])
      .default("12")
      .describe("Debian release: 12 (bookworm)."),
    arch: z.enum(ARCHES).default("x86_64").describe("CPU architecture of the image."),
    mirror: z
      .string()
      .regex(SAFE_URL, "an http(s) URL without spaces or quotes")
      .default(DEFAULTS.debian.mirror)
      .describe(
        "Debian mirror the installer uses, and with it apt in the installed system (not with base.image: " +
          "an image keeps its own apt sources).",
      ),
  })
  .describe("A Debian base instead of Alpine (apt and systemd). Give either alpine or debian.");

// A local path (absolute or relative to homelab.yaml) or an http(s) URL; no spaces or quotes.
const IMAGE_SOURCE = /^(?:https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(?:\/[A-Za-z0-9._~%/+-]*)?|[A-Za-z0-9._~/+-]+)$/;
const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const SSH_PASSWORD = /^[A-Za-z0-9._+-]{1,64}$/;

const baseSchema = z
  .strictObject({
    image: z
      .string()
      .regex(IMAGE_SOURCE, "a qcow2 path or http(s) URL without spaces or quotes")
      .describe("Existing bootable disk image (qcow2) to build on instead of installing from the ISO."),
    checksum: z.string().regex(SHA256, "sha256:<64 lowercase hex digits>").describe("sha256 of the image."),
    ssh: z
      .strictObject({
        username: z.string().regex(SSH_USER, "a Unix user name").default("vagrant"),
        password: z.string().regex(SSH_PASSWORD, "letters, digits and . _ + - (1 to 64)").default("vagrant"),
      })
      .prefault({})
      .describe("How Packer logs in to the image during the build (the user needs passwordless sudo)."),
  })
  .describe("Bring your own base image (libvirt only).");

/** A pinned upstream release: containerd's or runc's. */
const releasePin = (what: string, file: string, example: string) =>
  z
    .strictObject({
      version: z
        .string()
        .regex(SEMVER, `a ${what} release X.Y.Z (without the v)`)
        .optional()
        .describe(`Pinned ${what} release, e.g. ${example}.`),
      sha256: z
        .string()
        .regex(SHA256, "sha256:<64 lowercase hex digits>")
        .optional()
        .describe(`sha256 of ${file} for the image's arch. Optional for releases homelab knows; required otherwise.`),
      url: z
        .string()
        .regex(SAFE_URL, "an http(s) URL without spaces or quotes")
        .optional()
        .describe(`Release download base (files at <url>/v<version>/), e.g. a mirror of the GitHub releases.`),
    })
    .describe(`The ${what} a Debian kubeadm node runs (Alpine keeps its packaged one; k3s embeds its own).`);

const k8sSchema = z
  .strictObject({
    distribution: z.enum(DISTRIBUTIONS).describe("kubeadm (upstream Kubernetes) or k3s."),
    version: z
      .string()
      .optional()
      .describe("v1.X.Y for kubeadm, v1.X.Y+k3sN for k3s. Defaults to the current supported release."),
    bake: z
      .enum(BAKE_MODES)
      .default("airgap")
      .describe(
        "How much Kubernetes is baked into the image: airgap (binaries and images), binary " +
          "(binaries only) or none (only kernel, swap and container runtime are prepared).",
      ),
    cni: z
      .enum(CNIS)
      .optional()
      .describe(
        "kubeadm only: the pod network the box carries (default flannel: its pinned manifest, and with bake airgap " +
          "its images), or none. k3s brings its own flannel.",
      ),
    bootCheck: z
      .boolean()
      .optional()
      .describe(
        "Boot Kubernetes once inside the build, offline, from what the image holds, then remove every trace " +
          "(kubeadm init/reset, or a k3s server until the node is Ready). Needs bake airgap; on by default there.",
      ),
    containerd: releasePin("containerd", "containerd-<version>-linux-<amd64|arm64>.tar.gz", DEFAULTS.containerd.version).optional(),
    runc: releasePin("runc", "runc.<amd64|arm64>", DEFAULTS.runc.version).optional(),
  })
  // Checked on the k8s object itself so it is reported even when other fields are wrong too.
  .superRefine((k8s, ctx) => {
    if (k8s.version === undefined) return;
    const k3s = k8s.distribution === "k3s";
    if (!(k3s ? K3S_VERSION : KUBEADM_VERSION).test(k8s.version)) {
      ctx.addIssue({
        code: "custom",
        path: ["version"],
        message: k3s
          ? `expected a k3s version like ${DEFAULTS.k8s.k3s} for distribution k3s`
          : `expected a Kubernetes version like ${DEFAULTS.k8s.kubeadm} for distribution kubeadm`,
        input: k8s.version,
      });
    }
  })
  .describe("Kubernetes node contents. Leave out for a plain Alpine box.");

const vmSchema = z
  .strictObject({
    diskSizeMiB: z
      .number()
      .int()
      .min(20_480, "at least 20480 (20 GiB) so that pre-pulled images fit")
      .max(4_194_304)
      .default(20_480)
      .describe("Virtual disk size in MiB (>= 20480)."),
    memoryMiB: z.number().int().min(512).max(262_144).default(2048).describe("Build VM memory in MiB."),
    cpus: z.number().int().min(1).max(64).default(2).describe("Build VM virtual CPUs."),
  })
  .describe("Build VM size.");

const boxSchema = z
  .strictObject({
    version: z
      .string()
      .regex(SEMVER, "a box version X.Y.Z")
      .default("0.1.0")
      .describe("Version given to the built boxes when published."),
  })
  .describe("Box metadata.");

// A cluster name becomes part of host names (<name>-cp1), libvirt domain and network names and
// a directory name: lowercase letters, digits and inner dashes, short enough for a DNS label.
const CLUSTER_NAME = /^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
// A box in a registry, pinned: <org>/<name>@X.Y.Z (the names Vagrant and `homelab box` use).
const BOX_REF = /^[a-z0-9](?:[a-z0-9._-]{0,62})\/[a-z0-9](?:[a-z0-9._-]{0,126})@(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

const nodeSizeSchema = (what: string) =>
  z
    .strictObject({
      cpus: z.number().int().min(1).max(64).default(2).describe(`Virtual CPUs of each ${what}.`),
      memoryMiB: z.number().int().min(1024, "at least 1024 (a kubelet with its pods needs it)").max(262_144).default(2048).describe(`Memory of each ${what} in MiB.`),
    })
    .describe(`Size of each ${what}.`);

const clusterSchema = z
  .strictObject({
    name: z
      .string()
      .regex(CLUSTER_NAME, "lowercase letters, digits and dashes, starting with a letter, at most 40")
      .default("homelab")
      .describe("Cluster name: node host names are <name>-cp1, <name>-w1 ...; its files live in .homelab/clusters/<name>/."),
    controlPlanes: z
      .number()
      .int()
      .default(1)
      .describe("Control-plane nodes: 1, or 3 for high availability (stacked etcd needs an odd number to keep quorum)."),
    workers: z.number().int().min(0).max(20).default(1).describe("Worker nodes (0 to 20)."),
    controlPlane: nodeSizeSchema("control-plane node").prefault({}),
    worker: nodeSizeSchema("worker node").prefault({}),
    network: z
      .string()
      .default("192.168.56.0/24")
      .describe("The nodes' private network (CIDR). Node addresses are assigned in order from .10: control planes, then workers."),
    box: z
      .string()
      .regex(BOX_REF, "a pinned box <org>/<name>@X.Y.Z")
      .optional()
      .describe("The box to run, from `registry`. Default: the last `homelab build` of this config."),
    registry: z
      .string()
      .regex(SAFE_URL, "an http(s) URL without spaces or quotes")
      .optional()
      .describe("The box registry (`homelab box serve`, or any Vagrant catalog server) that has `box`."),
  })
  .superRefine((c, ctx) => {
    if (c.controlPlanes !== 1 && c.controlPlanes !== 3) {
      ctx.addIssue({
        code: "custom",
        path: ["controlPlanes"],
        input: c.controlPlanes,
        message:
          c.controlPlanes === 2
            ? "expected 1 or 3 control planes: with 2, etcd needs both members for a quorum, so losing either stops the cluster (2 is less available than 1)"
            : "expected 1 or 3 control planes (stacked etcd keeps its quorum with one of 3 down)",
      });
    }
  })
  .describe("A multi-node cluster from the box: `homelab cluster up` brings it up with Vagrant.");

export const configSchema = z
  .strictObject({
    org: z
      .string()
      .regex(ORG, "lowercase letters, digits and dashes (a Vagrant box namespace)")
      .default(DEFAULTS.org)
      .describe("Box namespace: boxes are named <org>/alpine-<major.minor>-k8snode-<distribution>."),
    alpine: alpineSchema.prefault({}),
    debian: debianSchema.optional(),
    base: baseSchema.optional(),
    k8s: k8sSchema.optional(),
    providers: z
      .array(z.enum(PROVIDERS))
      .min(1, "at least one provider")
      .refine((p) => new Set(p).size === p.length, "each provider once")
      .default(["libvirt"])
      .describe("Vagrant providers to build boxes for."),
    vm: vmSchema.prefault({}),
    box: boxSchema.prefault({}),
    cluster: clusterSchema.optional(),
  })
  .describe("homelab.yaml: one file that describes a Kubernetes node image.");

export type ConfigInput = z.input<typeof configSchema>;
type ParsedConfig = z.output<typeof configSchema>;

interface ConfigCommon extends Omit<ParsedConfig, "k8s" | "alpine" | "debian" | "base"> {
  /** A bring-your-own base image; `image` is an absolute path or a URL after loading. */
  base?: NonNullable<ParsedConfig["base"]>;
  /** `cni`: what the box carries for the pod network (always `none` for k3s, which embeds flannel). */
  k8s?: { distribution: Distribution; version: string; bake: BakeMode; cni: Cni; bootCheck: boolean; runtime?: RuntimePins };
}

/** A pinned upstream release file: version, its sha256 for the image's arch, download base. */
export interface ReleasePin {
  version: string;
  /** Lowercase hex, no prefix. */
  sha256: string;
  url: string;
}

/** The container runtime a Debian kubeadm node installs from upstream releases. */
export interface RuntimePins {
  containerd: ReleasePin;
  runc: ReleasePin;
}

/** An Alpine image (homelab.yaml without a debian section). */
export interface AlpineConfig extends ConfigCommon {
  family: "alpine";
  /** The Alpine pins, the ISO checksum resolved. */
  alpine: ParsedConfig["alpine"] & { isoChecksum: string };
}

/** A Debian image (homelab.yaml with a debian section). */
export interface DebianConfig extends ConfigCommon {
  family: "debian";
  debian: NonNullable<ParsedConfig["debian"]>;
}

/**
 * A validated config with every default applied and every version resolved. Which OS it is
 * decides what it carries; src/os is the one place that asks (`osFamily(config)`).
 */
export type Config = AlpineConfig | DebianConfig;

export const patterns = { CLUSTER_NAME, BOX_REF, IMAGE_SOURCE, ALPINE_VERSION, KUBEADM_VERSION, K3S_VERSION, SHA256, SEMVER, ORG, SAFE_URL };
