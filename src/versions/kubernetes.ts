import { patterns } from "../config/schema.js";

/**
 * Kubernetes publishes its newest release as plain text: `<base>/stable.txt` (newest stable
 * overall) and `<base>/stable-1.35.txt` (newest patch of a minor), e.g. `v1.35.1\n`.
 */
export function stableTxtUrl(releaseBase: string, minor?: string): string {
  return `${releaseBase.replace(/\/+$/, "")}/${minor === undefined ? "stable.txt" : `stable-${minor}.txt`}`;
}

export function parseStableTxt(text: string): string {
  const version = text.trim();
  if (!patterns.KUBEADM_VERSION.test(version)) {
    throw new Error(`expected a release like v1.35.1, got ${JSON.stringify(version.slice(0, 40))}`);
  }
  return version;
}

/**
 * kubeadm's own source says which pause image a release expects:
 * `cmd/kubeadm/app/constants/constants.go` at the release tag, `PauseVersion = "3.10.1"`.
 * A 404 there also means the tag (the release) does not exist.
 */
export function kubeadmConstantsUrl(sourceBase: string, version: string): string {
  return `${sourceBase.replace(/\/+$/, "")}/${version}/cmd/kubeadm/app/constants/constants.go`;
}

export function parsePauseVersion(goSource: string): string {
  const m = /\bPauseVersion\s*=\s*"([0-9][0-9A-Za-z.-]{0,20})"/.exec(goSource);
  if (!m) throw new Error("no PauseVersion constant in kubeadm's constants.go");
  return m[1]!;
}

export const PAUSE_REPOSITORY = "registry.k8s.io/pause";
