/**
 * The one version order homelab uses: Packer versions, the pins `versions check` compares and
 * box versions in a catalog all sort by their numbers (3.9 < 3.10, v1.35.9 < v1.35.10), never as text.
 */

/** A version's numeric core; `build` is k3s's `+k3sN` (absent, and so 0, everywhere else). */
export interface VersionCore {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly build?: number;
}

/** An already validated `X.Y.Z` as numbers (a missing part counts as 0). */
export function versionCore(text: string): VersionCore {
  const [major = 0, minor = 0, patch = 0] = text.split(".").map(Number);
  return { major, minor, patch };
}

/**
 * Negative when a < b, 0 when equal, positive when a > b. Text is read with `versionCore`, so a
 * list of valid box versions sorts with `versions.sort(compareVersions)`.
 */
export function compareVersions(a: VersionCore | string, b: VersionCore | string): number {
  const x = typeof a === "string" ? versionCore(a) : a;
  const y = typeof b === "string" ? versionCore(b) : b;
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch || (x.build ?? 0) - (y.build ?? 0);
}

export function atLeast(v: VersionCore, major: number, minor: number, patch = 0): boolean {
  return compareVersions(v, { major, minor, patch }) >= 0;
}
