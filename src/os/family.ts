import type { Arch, Config, Family } from "../config/schema.js";
import { alpineFamily } from "./alpine.js";
import { debianFamily } from "./debian.js";
import type { InstallSource } from "./install-source.js";
import { ownImage } from "./own-image.js";

/** Who Packer logs in as while it builds. */
export interface Login {
  username: string;
  password: string;
}

/** An OS pin `homelab versions check` compares with upstream. */
export type OsPin =
  | { kind: "alpine"; version: string; arch: Arch; isoChecksum: string; mirror: string }
  | { kind: "debian-iso"; version: string; arch: Arch; checksum: string; cdimage: string };

/**
 * Everything that differs between the operating systems an image can be: how the build VM's
 * disk is made, who logs in, what VirtualBox calls it, which in-VM script set runs, what the box
 * is named and which pins it has. Everything else asks this, never `config.family`.
 */
export interface OsFamily {
  /** `alpine` or `debian`: the builder's and the VM's name. */
  readonly id: Family;
  /** "Alpine", "Debian". */
  readonly name: string;
  /** For people: "Alpine 3.24.2", "Debian 12". */
  readonly displayName: string;
  readonly arch: Arch;
  /** The OS part of the box name: `alpine-3.24`, `debian-12`. */
  readonly osName: string;
  /** undefined when the family has no installer for the arch (the config needs base.image). */
  readonly installSource: InstallSource | undefined;
  /** Why there is no installSource, for the message that asks for base.image. */
  readonly noInstaller?: string;
  readonly login: Login;
  /** VirtualBox's OS type of the guest. */
  readonly guestOsType: string;
  /** The directory of the family's parts under assets/scripts/. */
  readonly scriptSet: string;
  /** The base step's name in the bundle. */
  readonly baseStep: string;
  /** The OS pins, as the bundle's README lists them ("Alpine 3.24.2"). */
  readonly pins: readonly string[];
  /** The pin `versions check` compares with upstream; none for a bring-your-own image. */
  readonly upstreamPin?: OsPin;
}

/** The OS family of a config: its distribution, with a bring-your-own image in place of the installer. */
export function osFamily(config: Config): OsFamily {
  const distribution = config.family === "alpine" ? alpineFamily(config) : debianFamily(config);
  return config.base === undefined ? distribution : ownImage(distribution, config.base);
}

/** The guest architecture, whichever OS the config describes. */
export function archOf(config: Config): Arch {
  return config.family === "alpine" ? config.alpine.arch : config.debian.arch;
}

/** The Alpine mirror `versions check` asks, when the image is installed from Alpine's ISO. */
export function alpineMirrorOf(config: Config): string | undefined {
  const pin = osFamily(config).upstreamPin;
  return pin?.kind === "alpine" ? pin.mirror : undefined;
}
