import { patterns } from "../config/schema.js";

/**
 * containerd and runc publish their releases on GitHub. The REST API's release list
 * (`GET <api>/repos/<owner>/<repo>/releases?per_page=100`) answers a JSON array, newest first,
 * of `{"tag_name":"v2.3.4","name":"containerd 2.3.4","draft":false,"prerelease":false,
 * "published_at":..., "assets":[{"name":...,"browser_download_url":...}]}`; only tag_name, draft and
 * prerelease matter. Each release's checksums are assets next to the files: containerd's
 * `containerd-<v>-linux-<goarch>.tar.gz.sha256sum` and runc's `runc.sha256sum`, both "digest  name"
 * lines (sha256sum format), under `<github>/<owner>/<repo>/releases/download/v<v>/`.
 */
export const RUNTIME_REPOS = { containerd: "containerd/containerd", runc: "opencontainers/runc" } as const;
export type RuntimeName = keyof typeof RUNTIME_REPOS;

export function releasesUrl(api: string, name: RuntimeName): string {
  return `${api.replace(/\/+$/, "")}/repos/${RUNTIME_REPOS[name]}/releases?per_page=100`;
}

/** The final releases (X.Y.Z, no drafts, no pre-releases) a release list names. */
export function parseGithubReleases(text: string): string[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!Array.isArray(data)) throw new Error("expected a JSON list of releases");
  const versions: string[] = [];
  for (const release of data) {
    const { tag_name: tag, draft, prerelease } = (release ?? {}) as { tag_name?: unknown; draft?: unknown; prerelease?: unknown };
    if (typeof tag !== "string" || draft === true || prerelease === true) continue;
    const version = tag.replace(/^v/, "");
    if (patterns.SEMVER.test(version)) versions.push(version);
  }
  if (versions.length === 0) throw new Error("the release list names no final release (expected tag_name like v2.3.4)");
  return versions;
}

/** The release file a pin's sha256 is of, and the checksum file that lists it. */
export function releaseChecksum(github: string, name: RuntimeName, version: string, goarch: string): { url: string; file: string } {
  const base = `${github.replace(/\/+$/, "")}/${RUNTIME_REPOS[name]}/releases/download/v${version}`;
  if (name === "containerd") {
    const file = `containerd-${version}-linux-${goarch}.tar.gz`;
    return { url: `${base}/${file}.sha256sum`, file };
  }
  return { url: `${base}/runc.sha256sum`, file: `runc.${goarch}` };
}
