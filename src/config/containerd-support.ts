import { compareVersions, type VersionCore } from "../semver.js";

/**
 * Which containerd releases containerd recommends for each Kubernetes minor: the "Kubernetes
 * Support" table of containerd's RELEASES.md (containerd/containerd, RELEASES.md at v2.3.4 for
 * 1.32-1.36; the rows for 1.30 and 1.31, dropped there, from the same table at v2.1.9 and
 * v2.2.7). A row lists, per containerd release line, the first patch release recommended:
 * "2.2.0+, 2.1.5+" means any 2.2.x, or 2.1.5 and later 2.1.x, and no other line (2.3 is not
 * listed for 1.35, so it is not recommended there). Only containerd 2.x lines are kept: the
 * node writes a version-3 config, which 1.x cannot read.
 *
 * A minor with no row (1.37 when this was written) has no recommended containerd yet.
 */
export const CONTAINERD_FOR_KUBERNETES: Readonly<Record<number, readonly string[]>> = {
  30: ["2.1.0", "2.0.0"],
  31: ["2.1.0", "2.0.0"],
  32: ["2.1.0", "2.0.1"],
  33: ["2.1.0", "2.0.4"],
  34: ["2.1.3", "2.0.6"],
  35: ["2.2.0", "2.1.5"],
  36: ["2.3.0", "2.2.0"],
};

function parse(version: string): VersionCore | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

/** The table's row for a minor in its own words ("2.3.0+, 2.2.0+"), or undefined without one. */
export function supportedContainerd(k8sMinor: number): string | undefined {
  const row = CONTAINERD_FOR_KUBERNETES[k8sMinor];
  return row === undefined ? undefined : row.map((v) => `${v}+`).join(", ");
}

/** Whether the table recommends containerd `version` (X.Y.Z) for Kubernetes 1.`k8sMinor`. */
export function containerdSupports(version: string, k8sMinor: number): boolean {
  const v = parse(version);
  const row = CONTAINERD_FOR_KUBERNETES[k8sMinor];
  if (v === undefined || row === undefined) return false;
  return row.some((first) => {
    const f = parse(first)!;
    return f.major === v.major && f.minor === v.minor && compareVersions(v, f) >= 0;
  });
}
