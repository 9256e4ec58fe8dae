import type { AlpineConfig } from "../config/schema.js";
import { choice, ref } from "../bundle/hcl-value.js";
import { answerFile } from "./alpine-answers.js";
import type { OsFamily } from "./family.js";
import type { InstallSource } from "./install-source.js";

/**
 * The boot command: log in to the live ISO as root, bring up DHCP, fetch install.sh from
 * Packer's HTTP server and run it. Everything else lives in install.sh, because typed boot
 * commands are slow and brittle; the typed part stays two lines.
 */
/**
 * How long Packer waits before typing the boot command. Accelerated: the 30 s that suits KVM.
 * TCG: an estimate, not a measurement (no Alpine ISO can be booted on the machines this was
 * written on): TCG runs this guest's boot about 4-5 times slower than KVM on the 2 shared cores
 * measured for the Debian e2e build, so 150 s.
 */
export const ALPINE_BOOT_WAIT = { accelerated: "30s", tcg: "150s" } as const;

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
      // The boot command is typed at the live ISO's login prompt: keys sent before it appears are
      // lost. alpine-virt reaches it well within 30 s under KVM; under TCG (software emulation,
      // several times slower, and `homelab build` falls back to it when KVM is unusable) 30 s
      // typed into the booting kernel. Packer picks by the accelerator it is given (the variable
      // exists with the libvirt provider; VirtualBox never emulates).
      boot_wait: config.providers.includes("libvirt")
        ? choice(ref("var.accelerator"), "tcg", ALPINE_BOOT_WAIT.tcg, ALPINE_BOOT_WAIT.accelerated)
        : ALPINE_BOOT_WAIT.accelerated,
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
