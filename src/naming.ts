import type { Config } from "./config/schema.js";

/** `3.24.1` → `3.24`. */
export function alpineBranch(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}

/** `alpine-3.24` or `debian-12`. */
export function osName(config: Pick<Config, "family" | "alpine" | "debian">): string {
  return config.family === "debian" ? `debian-${config.debian!.release}` : `alpine-${alpineBranch(config.alpine.version)}`;
}

/** The box's base name without the org: `alpine-3.24-k8snode-kubeadm` (or `debian-12-base`). */
export function boxBaseName(config: Config): string {
  return config.k8s ? `${osName(config)}-k8snode-${config.k8s.distribution}` : `${osName(config)}-base`;
}

/** The Vagrant box name: `<org>/<os>-<version>-k8snode-<distribution>`. */
export function boxName(config: Config): string {
  return `${config.org}/${boxBaseName(config)}`;
}
