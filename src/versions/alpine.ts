import { parse } from "yaml";
import { patterns } from "../config/schema.js";

/**
 * Alpine publishes, per branch and architecture, `latest-releases.yaml`: a YAML list with one
 * entry per image flavor of the newest point release (title, branch, arch, version, flavor,
 * file, iso, date, time, size, sha256, sha512). homelab boots the `alpine-virt` ISO.
 */
export interface AlpineRelease {
  branch: string;
  arch: string;
  version: string;
  file: string;
  sha256: string;
}

export const VIRT_FLAVOR = "alpine-virt";

/** `<mirror>/v3.24/releases/x86_64/latest-releases.yaml`, or `<mirror>/latest-stable/...`. */
export function latestReleasesUrl(mirror: string, branch: string | "latest-stable", arch: string): string {
  const dir = branch === "latest-stable" ? "latest-stable" : `v${branch}`;
  return `${mirror.replace(/\/+$/, "")}/${dir}/releases/${arch}/latest-releases.yaml`;
}

/** The alpine-virt entry for `arch`, checked field by field (it ends up in homelab.yaml). */
export function parseLatestReleases(text: string, arch: string): AlpineRelease {
  let data: unknown;
  try {
    // Plain core schema: `time: 10:30:25` stays a string, versions stay strings.
    data = parse(text, { schema: "core", uniqueKeys: false });
  } catch (err) {
    throw new Error(`not valid YAML (${firstLine(err)})`);
  }
  if (!Array.isArray(data)) throw new Error("expected a YAML list of releases (latest-releases.yaml)");
  const entry = data.find(
    (e): e is Record<string, unknown> =>
      typeof e === "object" && e !== null && (e as Record<string, unknown>).flavor === VIRT_FLAVOR && String((e as Record<string, unknown>).arch) === arch,
  );
  if (!entry) throw new Error(`no ${VIRT_FLAVOR} entry for ${arch}`);
  const version = String(entry.version ?? "");
  const sha256 = String(entry.sha256 ?? "");
  const file = String(entry.file ?? entry.iso ?? "");
  if (!patterns.ALPINE_VERSION.test(version)) throw new Error(`${VIRT_FLAVOR} version ${JSON.stringify(version)} is not a 3.X.Y release`);
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`${VIRT_FLAVOR} ${version}: sha256 is not 64 hex digits`);
  if (file !== `${VIRT_FLAVOR}-${version}-${arch}.iso`) throw new Error(`${VIRT_FLAVOR} ${version}: unexpected file name ${JSON.stringify(file)}`);
  return { branch: String(entry.branch ?? ""), arch, version, file, sha256 };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";
}
