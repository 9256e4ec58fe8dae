import { InputError } from "../errors.js";

/**
 * Every name that becomes part of a path in the registry (org, box, version, provider,
 * architecture) is checked against a strict pattern here. The store and the server only ever
 * build paths from values that passed these checks, so `..`, slashes, `%`, backslashes and NUL
 * can never reach the filesystem, whatever a request or a flag contains.
 */

const ORG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
// Box names: like Vagrant's (`alpine-3.24-k8snode-kubeadm`), but never starting with a dot.
const BOX = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$/;
const SEMVER = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/;
// Vagrant's provider names (libvirt, virtualbox, vmware_desktop, hyperv, docker, qemu, parallels):
// also checked on the provider a box's own metadata.json declares, before anything uses it.
const PROVIDER = /^[a-z][a-z0-9_-]{0,31}$/;
/** The provider rule in words, for messages. */
export const PROVIDER_RULE = "lowercase letters, digits, '_' and '-', starting with a letter, at most 32 characters, like libvirt or virtualbox";

/** Architecture names as Vagrant (>= 2.4) writes them; see Vagrant::Util::Platform.architecture. */
export const ARCHITECTURES = ["amd64", "arm64", "i386", "arm", "unknown"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** Names people (and homelab.yaml's `alpine.arch`) use for the same CPUs. */
const ARCH_ALIASES: Readonly<Record<string, Architecture>> = { x86_64: "amd64", aarch64: "arm64", x86: "i386", armv7: "arm" };

/** A box in a registry: `org/name`. */
export interface BoxRef {
  readonly org: string;
  readonly name: string;
}

export function isOrg(s: string): boolean {
  return ORG.test(s);
}
export function isBoxName(s: string): boolean {
  return BOX.test(s) && !s.includes("..");
}
export function isVersion(s: string): boolean {
  return SEMVER.test(s);
}
export function isProvider(s: string): boolean {
  return PROVIDER.test(s);
}
export function isArchitecture(s: string): s is Architecture {
  return (ARCHITECTURES as readonly string[]).includes(s);
}

/** Parses `org/name` (as given to --name or on the command line). */
export function parseBoxRef(text: string, what = "box name"): BoxRef {
  const parts = text.split("/");
  const [org, name] = parts;
  if (parts.length !== 2 || org === undefined || name === undefined || !isOrg(org) || !isBoxName(name)) {
    throw new InputError(
      `${what}: expected org/name (org: lowercase letters, digits and '-'; name: letters, digits, '.', '_' and '-'), got ${JSON.stringify(text)}`,
    );
  }
  return { org, name };
}

export function formatBoxRef(ref: BoxRef): string {
  return `${ref.org}/${ref.name}`;
}

export function parseVersion(text: string, what = "version"): string {
  if (!isVersion(text)) throw new InputError(`${what}: expected a version X.Y.Z (three whole numbers, no leading zeros), got ${JSON.stringify(text)}`);
  return text;
}

export function parseProvider(text: string, what = "provider"): string {
  if (!isProvider(text)) throw new InputError(`${what}: expected a provider name like libvirt or virtualbox, got ${JSON.stringify(text)}`);
  return text;
}

/** Vagrant's name for an architecture name or alias (x86_64 → amd64), or undefined when it is neither. */
export function normalizeArchitecture(text: string): Architecture | undefined {
  const arch = Object.hasOwn(ARCH_ALIASES, text) ? ARCH_ALIASES[text]! : text;
  return isArchitecture(arch) ? arch : undefined;
}

/** The architecture rule in words, for messages. */
export const ARCHITECTURE_RULE = `one of ${ARCHITECTURES.join(", ")} (or x86_64, aarch64)`;

/** Accepts Vagrant's architecture names and the common aliases (x86_64 → amd64, aarch64 → arm64). */
export function parseArchitecture(text: string, what = "architecture"): Architecture {
  const arch = normalizeArchitecture(text);
  if (arch === undefined) throw new InputError(`${what}: expected ${ARCHITECTURE_RULE}, got ${JSON.stringify(text)}`);
  return arch;
}

/**
 * `org/name@version[/provider[/architecture]]`, the argument of `homelab box rm`.
 */
export interface BoxSelector extends BoxRef {
  readonly version: string;
  readonly provider?: string;
  readonly architecture?: Architecture;
}

export function parseBoxSelector(text: string): BoxSelector {
  const at = text.indexOf("@");
  if (at < 0) throw new InputError(`expected org/name@version[/provider[/architecture]], got ${JSON.stringify(text)}`);
  const ref = parseBoxRef(text.slice(0, at));
  const [version, provider, architecture, ...rest] = text.slice(at + 1).split("/");
  if (rest.length > 0 || version === undefined) {
    throw new InputError(`expected org/name@version[/provider[/architecture]], got ${JSON.stringify(text)}`);
  }
  return {
    ...ref,
    version: parseVersion(version),
    ...(provider === undefined ? {} : { provider: parseProvider(provider) }),
    ...(architecture === undefined ? {} : { architecture: parseArchitecture(architecture) }),
  };
}
