import type { Config } from "../config/schema.js";
import { ref } from "../packer/hcl-value.js";
import { alpineBranch } from "../naming.js";
import { answerFile } from "./alpine-answers.js";
import type { InstallSource } from "./install-source.js";

/**
 * The boot command: log in to the live ISO as root, bring up DHCP, fetch install.sh from
 * Packer's HTTP server and run it. Everything else lives in install.sh, because typed boot
 * commands are slow and brittle; the typed part stays two lines.
 */
export const BOOT_COMMAND = [
  "root<enter><wait5>",
  "setup-interfaces -a -r && wget -qO /tmp/install.sh http://{{ .HTTPIP }}:{{ .HTTPPort }}/install.sh && sh /tmp/install.sh http://{{ .HTTPIP }}:{{ .HTTPPort }}<enter>",
];

/** The pinned alpine-virt ISO, installed with setup-alpine and an answer file. */
export const alpineInstall: InstallSource = {
  prepare(bundle, config, { asset }) {
    const { version, isoChecksum } = config.alpine;
    bundle
      .addVariable("alpine_version", { type: "string", description: "Pinned Alpine point release." }, version)
      .addVariable("iso_url", { type: "string", description: "URL of the alpine-virt ISO." }, isoUrl(config))
      .addVariable("iso_checksum", { type: "string", description: "Pinned checksum of the ISO (sha256:<hex>)." }, isoChecksum);
    bundle.addFile("http/answers", { content: answerFile(config), mode: 0o644 });
    bundle.addFile("http/install.sh", { content: asset("http/install.sh"), mode: 0o755 });
  },
  options: () => ({
    iso_url: ref("var.iso_url"),
    iso_checksum: ref("var.iso_checksum"),
    http_directory: "http",
    boot_wait: "30s",
    boot_command: BOOT_COMMAND,
  }),
};

function isoUrl(config: Config): string {
  const { version, arch, mirror } = config.alpine;
  return `${mirror.replace(/\/+$/, "")}/v${alpineBranch(version)}/releases/${arch}/alpine-virt-${version}-${arch}.iso`;
}
