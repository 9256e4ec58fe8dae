/**
 * flannel publishes its releases on GitHub. The REST API answers one release as JSON
 * (`GET /repos/flannel-io/flannel/releases/latest`: the newest release that is neither a draft
 * nor a prerelease; `.../releases/tags/<tag>`: that tag's release, 404 when there is none):
 * `{"tag_name":"v0.28.9", "draft":false, "prerelease":false, "assets":[{"name":"kube-flannel.yml",
 * "browser_download_url":..., "digest":"sha256:<hex>"}, ...], ...}`. GitHub computes each asset's
 * `digest` at upload (since June 2025); older assets have `null` there.
 */

/** The API base of flannel's releases (`<base>/latest`, `<base>/tags/<tag>`). */
export function flannelReleaseUrl(releasesApi: string, tag: string | "latest"): string {
  const base = releasesApi.replace(/\/+$/, "");
  return tag === "latest" ? `${base}/latest` : `${base}/tags/${encodeURIComponent(tag)}`;
}

export interface GithubRelease {
  tag: string;
  /** Asset name → its sha256 (hex), for the assets GitHub has a digest of. */
  sha256: ReadonlyMap<string, string>;
}

const TAG = /^v\d{1,3}\.\d{1,3}\.\d{1,3}$/;

export function parseGithubRelease(text: string): GithubRelease {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const release = (data ?? {}) as { tag_name?: unknown; draft?: unknown; prerelease?: unknown; assets?: unknown };
  if (typeof release.tag_name !== "string" || !Array.isArray(release.assets)) {
    throw new Error("expected a GitHub release (an object with tag_name and assets)");
  }
  if (!TAG.test(release.tag_name)) throw new Error(`expected a release tag like v0.28.9, got ${JSON.stringify(release.tag_name.slice(0, 40))}`);
  if (release.draft === true || release.prerelease === true) throw new Error(`${release.tag_name} is a draft or a prerelease`);
  const sha256 = new Map<string, string>();
  for (const asset of release.assets) {
    const { name, digest } = (asset ?? {}) as { name?: unknown; digest?: unknown };
    const hex = typeof digest === "string" ? /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1] : undefined;
    if (typeof name === "string" && hex !== undefined) sha256.set(name, hex);
  }
  return { tag: release.tag_name, sha256 };
}

/** The manifest the box carries (the release asset). */
export const FLANNEL_MANIFEST_ASSET = "kube-flannel.yml";
