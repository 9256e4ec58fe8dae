import { DEFAULTS } from "../config/defaults.js";
import type { DebianConfig } from "../config/schema.js";
import { ref } from "../bundle/hcl-value.js";
import type { OsFamily } from "./family.js";
import type { InstallSource } from "./install-source.js";

/** The installer's BIOS boot prompt: <esc> reaches `boot:`, then an automated preseeded install. */
export const DEBIAN_BOOT_COMMAND = [
  "<wait><esc><wait>",
  "auto preseed/url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/debian-preseed.cfg ",
  "debian-installer=en_US.UTF-8 locale=en_US.UTF-8 keymap=us ",
  "netcfg/get_hostname=debian netcfg/get_domain=local ",
  "fb=false debconf/frontend=noninteractive console-setup/ask_detect=false",
  "<enter>",
];

/** Debian's name for the architecture, in ISO paths. */
const DEBIAN_ARCH = { x86_64: "amd64", aarch64: "arm64" } as const;

/** The pinned netinst ISO of an arch, from the defaults (none where no checksum is pinned). */
export function debianNetinst(arch: keyof typeof DEBIAN_ARCH): { version: string; url: string; checksum: string } | undefined {
  const { version, cdimage, sha256 } = DEFAULTS.debian.netinst;
  const hex = sha256[arch];
  if (hex === undefined) return undefined;
  const darch = DEBIAN_ARCH[arch];
  return { version, url: `${cdimage}/archive/${version}/${darch}/iso-cd/debian-${version}-${darch}-netinst.iso`, checksum: `sha256:${hex}` };
}

/** Debian 12, installed unattended from the pinned netinst ISO with a preseed. */
export function debianFamily(config: DebianConfig): OsFamily {
  const { release, arch } = config.debian;
  const iso = debianNetinst(arch);
  const { version, cdimage } = DEFAULTS.debian.netinst;
  return {
    id: "debian",
    name: "Debian",
    displayName: `Debian ${release}`,
    arch,
    osName: `debian-${release}`,
    installSource: iso === undefined ? undefined : debianInstall(config, iso),
    noInstaller: `homelab has no ${DEBIAN_ARCH[arch]} installer ISO whose checksum it can vouch for`,
    // The preseed creates vagrant with passwordless sudo.
    login: { username: "vagrant", password: "vagrant" },
    guestOsType: "Debian_64",
    scriptSet: "debian",
    baseStep: "base-debian",
    pins: iso === undefined ? [] : [`Debian ${version} netinst`],
    ...(iso === undefined ? {} : { upstreamPin: { kind: "debian-iso" as const, version, arch, checksum: iso.checksum, cdimage } }),
  };
}

function debianInstall(config: DebianConfig, iso: { url: string; checksum: string }): InstallSource {
  return {
    prepare(bundle, { asset }) {
      bundle
        .addVariable("iso_url", { type: "string", description: "URL of the Debian 12 netinst ISO." }, iso.url)
        .addVariable("iso_checksum", { type: "string", description: "Pinned checksum of the ISO (sha256:<hex>)." }, iso.checksum);
      bundle.addFile("http/debian-preseed.cfg", { content: preseed(asset("http/debian-preseed.cfg"), config.debian.mirror), mode: 0o644 });
    },
    options: () => ({
      iso_url: ref("var.iso_url"),
      iso_checksum: ref("var.iso_checksum"),
      http_directory: "http",
      // Under TCG the installer menu appears late; bento's 10 s is too short there.
      boot_wait: "15s",
      boot_command: DEBIAN_BOOT_COMMAND,
    }),
  };
}

/**
 * The preseed with the config's mirror in its mirror answers (the installer then writes it to the
 * installed system's sources.list). The mirror URL is validated by the config schema (no blanks,
 * quotes, `$` or backslashes), so each part is inert in a debconf answer.
 */
export function preseed(template: string, mirror: string): string {
  const url = new URL(mirror);
  const protocol = url.protocol.slice(0, -1);
  const answers = [
    `d-i mirror/protocol string ${protocol}`,
    `d-i mirror/${protocol}/hostname string ${url.host}`,
    `d-i mirror/${protocol}/directory string ${url.pathname.replace(/\/+$/, "") || "/"}`,
    `d-i mirror/${protocol}/proxy string`,
  ].join("\n");
  const block = /^d-i mirror\/protocol string .*\nd-i mirror\/http\/hostname string .*\nd-i mirror\/http\/directory string .*\nd-i mirror\/http\/proxy string.*$/m;
  if (!block.test(template)) throw new Error("assets/http/debian-preseed.cfg: the mirror answers are not where homelab writes the configured mirror");
  return template.replace(block, answers);
}
