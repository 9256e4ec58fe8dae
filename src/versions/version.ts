import type { VersionCore } from "../semver.js";

/**
 * The three version shapes homelab pins, parsed to numbers so they compare correctly
 * (3.9 < 3.10, v1.35.9 < v1.35.10, +k3s1 < +k3s2).
 */
export interface PinVersion extends VersionCore {
  /** k3s build number (`+k3sN`); 0 for Alpine and upstream Kubernetes. */
  readonly build: number;
}

export type VersionKind = "alpine" | "kubeadm" | "k3s" | "debian" | "flannel" | "release";

// Same shapes as the config schema's patterns, with the numbers captured.
const SHAPES: Record<VersionKind, RegExp> = {
  alpine: /^(3)\.(\d{1,2})\.(\d{1,2})$/,
  kubeadm: /^v(1)\.(\d{1,2})\.(\d{1,3})$/,
  k3s: /^v(1)\.(\d{1,2})\.(\d{1,3})\+k3s(\d{1,2})$/,
  // A Debian point release (12.15.0): its minor counts the point releases of the major.
  debian: /^(\d{1,2})\.(\d{1,2})\.(\d{1,2})$/,
  // A flannel release tag (v0.28.9).
  flannel: /^v(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/,
  // An upstream release X.Y.Z (containerd, runc).
  release: /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/,
};

export function parseVersion(kind: VersionKind, text: string): PinVersion | undefined {
  const m = SHAPES[kind].exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), build: Number(m[4] ?? 0) };
}

/** `3.24` / `1.35`: the branch or minor a version belongs to. */
export function minorOf(v: PinVersion): string {
  return `${v.major}.${v.minor}`;
}
