import type { AlpineConfig } from "../config/schema.js";

/**
 * The setup-alpine answer file. setup-alpine sources it as shell, so every interpolated value
 * must be shell-inert: the mirror URL is validated by the config schema (no quotes, spaces, `$`
 * or backslashes) and the branch is derived from a validated version.
 *
 * No secrets: setup-alpine runs with -e (empty root password; install.sh then sets the
 * documented Vagrant default), and no user is created here (base-alpine.sh adds `vagrant`).
 */
export function answerFile(config: AlpineConfig): string {
  const mirror = config.alpine.mirror.replace(/\/+$/, "");
  return [
    "# setup-alpine answer file written by homelab",
    'KEYMAPOPTS="us us"',
    'HOSTNAMEOPTS="-n alpine"',
    'DEVDOPTS="mdev"',
    'INTERFACESOPTS="auto lo',
    "iface lo inet loopback",
    "",
    "auto eth0",
    "iface eth0 inet dhcp",
    '"',
    'TIMEZONEOPTS="-z UTC"',
    'PROXYOPTS="none"',
    // setup-apkrepos -1 takes the first entry of $MIRRORS: the configured mirror, with the
    // community repository enabled (Kubernetes packages live there). install.sh then pins the
    // installed system to exactly this release's main and community: never edge or testing.
    `export MIRRORS="${mirror}"`,
    'APKREPOSOPTS="-1 -c"',
    'USEROPTS="none"',
    'SSHDOPTS="openssh"',
    'NTPOPTS="chrony"',
    // No swap partition: Kubernetes wants swap off, so none is ever created.
    'DISKOPTS="-s 0 -m sys $HOMELAB_DISK"',
    'LBUOPTS="none"',
    'APKCACHEOPTS="none"',
    "",
  ].join("\n");
}
