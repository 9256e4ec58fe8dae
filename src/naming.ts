import type { Config } from "./config/schema.js";

/** `3.24.1` → `3.24`. */
export function alpineBranch(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}

/** The box's base name without the org: `alpine-3.24-k8snode-kubeadm` (or `alpine-3.24-base`). */
export function boxBaseName(config: Config): string {
  const os = `alpine-${alpineBranch(config.alpine.version)}`;
  return config.k8s ? `${os}-k8snode-${config.k8s.distribution}` : `${os}-base`;
}

/** The Vagrant box name: `<org>/alpine-<major.minor>-k8snode-<distribution>`. */
export function boxName(config: Config): string {
  return `${config.org}/${boxBaseName(config)}`;
}
