import { atLeast, type VersionCore } from "../semver.js";

/** A semantic version's numeric core; pre-release tags are kept only for display. */
export interface SemVer extends VersionCore {
  readonly text: string;
}

/**
 * Reads the version from `packer version` output. Packer has printed `Packer v1.6.6` as its first
 * line since 1.0 (later versions add lines about updates and plugins below it).
 */
export function parsePackerVersion(output: string): SemVer | undefined {
  const m = /^Packer v(\d+)\.(\d+)\.(\d+)(\S*)/m.exec(output);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: `${m[1]}.${m[2]}.${m[3]}${m[4] ?? ""}` };
}

/** A bare version string (`1.6.6`, `v1.11.2`, `1.9.0-dev`), as users pass with --packer-version. */
export function parseVersionText(text: string): SemVer | undefined {
  return parsePackerVersion(`Packer v${text.replace(/^v/, "")}`);
}

/** `required_plugins` and `packer init` exist from this Packer on; older ones build plugins in. */
export const PLUGINS_SINCE = { major: 1, minor: 7, patch: 0 } as const;

export function supportsPlugins(v: SemVer): boolean {
  return atLeast(v, PLUGINS_SINCE.major, PLUGINS_SINCE.minor, PLUGINS_SINCE.patch);
}
