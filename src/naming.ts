import type { Config } from "./config/schema.js";
import { osFamily } from "./os/index.js";

/** `alpine-3.24` or `debian-12`. */
export function osName(config: Config): string {
  return osFamily(config).osName;
}

/** The box's base name without the org: `alpine-3.24-k8snode-kubeadm` (or `debian-12-base`). */
export function boxBaseName(config: Config): string {
  return config.k8s ? `${osName(config)}-k8snode-${config.k8s.distribution}` : `${osName(config)}-base`;
}

/** The Vagrant box name: `<org>/<os>-<version>-k8snode-<distribution>`. */
export function boxName(config: Config): string {
  return `${config.org}/${boxBaseName(config)}`;
}
