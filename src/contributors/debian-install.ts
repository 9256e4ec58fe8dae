import { ref } from "../packer/hcl-value.js";
import type { InstallSource } from "./install-source.js";

/**
 * Debian 12's netinst ISO, installed unattended with a preseed (assets/http/debian-preseed.cfg).
 * 12.15.0 is bookworm's newest point release; its sha256 was found identical in three
 * independent public files (see assets/http/DEBIAN.md). Bookworm ISOs live under cdimage's
 * archive/ since Debian 13 became stable. Only amd64 has a default: no arm64 netinst checksum
 * could be confirmed, so arm64 Debian builds need base.image (the config loader says so).
 */
export const DEBIAN_NETINST = {
  version: "12.15.0",
  url: "https://cdimage.debian.org/cdimage/archive/12.15.0/amd64/iso-cd/debian-12.15.0-amd64-netinst.iso",
  checksum: "sha256:cd4462c06aa8892e692c0c4b9c17802f38c8ab8690e85cbfb5ccaa5956e9af17",
} as const;

/** The installer's BIOS boot prompt: <esc> reaches `boot:`, then an automated preseeded install. */
export const DEBIAN_BOOT_COMMAND = [
  "<wait><esc><wait>",
  "auto preseed/url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/debian-preseed.cfg ",
  "debian-installer=en_US.UTF-8 locale=en_US.UTF-8 keymap=us ",
  "netcfg/get_hostname=debian netcfg/get_domain=local ",
  "fb=false debconf/frontend=noninteractive console-setup/ask_detect=false",
  "<enter>",
];

export const debianInstall: InstallSource = {
  prepare(bundle, _config, { asset }) {
    bundle
      .addVariable("iso_url", { type: "string", description: "URL of the Debian 12 netinst ISO." }, DEBIAN_NETINST.url)
      .addVariable("iso_checksum", { type: "string", description: "Pinned checksum of the ISO (sha256:<hex>)." }, DEBIAN_NETINST.checksum);
    bundle.addFile("http/debian-preseed.cfg", { content: asset("http/debian-preseed.cfg"), mode: 0o644 });
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
