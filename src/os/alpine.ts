import type { AlpineConfig } from "../config/schema.js";
import { ref } from "../bundle/hcl-value.js";
import { answerFile } from "./alpine-answers.js";
import type { OsFamily } from "./family.js";
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

/** `3.24.1` → `3.24`. */
export function alpineBranch(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}

/** Alpine Linux, installed from the pinned alpine-virt ISO with setup-alpine and an answer file. */
export function alpineFamily(config: AlpineConfig): OsFamily {
  const { version, arch, isoChecksum } = config.alpine;
  return {
    id: "alpine",
    name: "Alpine",
    displayName: `Alpine ${version}`,
    arch,
    osName: `alpine-${alpineBranch(version)}`,
    installSource: alpineInstall(config),
    // install.sh gives root the Vagrant default password for the build.
    login: { username: "root", password: "vagrant" },
    // VirtualBox has no Alpine type; Linux 2.6+/64-bit is what Alpine templates use.
    guestOsType: "Linux26_64",
    scriptSet: "alpine",
    baseStep: "base-alpine",
    pins: [`Alpine ${version}`],
    upstreamPin: { kind: "alpine", version, arch, isoChecksum, mirror: config.alpine.mirror },
  };
}

function alpineInstall(config: AlpineConfig): InstallSource {
  return {
    prepare(bundle, { asset }) {
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
      // setup-alpine starts sshd in the live ISO (setup-sshd), which refuses root/"vagrant"
      // until install.sh reboots into the installed system; Packer gives up after
      // ssh_handshake_attempts refused logins (default 10: about 70 s at 5 s + 2 s per refused
      // attempt, packer-plugin-sdk communicator/step_connect_ssh.go). 500 outlasts ssh_timeout
      // (30m), which then ends the wait.
      ssh_handshake_attempts: 500,
    }),
  };
}

function isoUrl(config: AlpineConfig): string {
  const { version, arch, mirror } = config.alpine;
  return `${mirror.replace(/\/+$/, "")}/v${alpineBranch(version)}/releases/${arch}/alpine-virt-${version}-${arch}.iso`;
}
