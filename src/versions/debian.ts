/**
 * Debian's installer images live on cdimage.debian.org: `archive/` holds every point release of
 * older stables as a directory (`12.15.0/`), each with `<arch>/iso-cd/SHA256SUMS` in sha256sum
 * format. homelab boots the netinst ISO.
 */

/** `<cdimage>/archive/`: an HTML directory listing, one entry per point release. */
export function archiveIndexUrl(cdimage: string): string {
  return `${cdimage.replace(/\/+$/, "")}/archive/`;
}

/** The point releases (`12.15.0`) the archive index lists. */
export function parseArchiveIndex(html: string): string[] {
  const versions = new Set([...html.matchAll(/href="(\d{1,2}\.\d{1,2}\.\d{1,2})\/"/g)].map((m) => m[1]!));
  if (versions.size === 0) throw new Error("the cdimage archive index lists no point release (expected links like 12.15.0/)");
  return [...versions];
}

/** The netinst ISO's file name and its SHA256SUMS, for a Debian architecture name (amd64). */
export function netinstFile(version: string, darch: string): string {
  return `debian-${version}-${darch}-netinst.iso`;
}

export function netinstSumsUrl(cdimage: string, version: string, darch: string): string {
  return `${cdimage.replace(/\/+$/, "")}/archive/${version}/${darch}/iso-cd/SHA256SUMS`;
}

/** The one sha256 SHA256SUMS gives for `file`. */
export function parseSha256Sums(text: string, file: string): string {
  const entries = text.split("\n").map((l) => l.trim().split(/\s+\*?/)).filter(([, name]) => name === file);
  if (entries.length !== 1) throw new Error(`SHA256SUMS has ${entries.length === 0 ? "no" : "several"} entries for ${file}`);
  const hex = entries[0]![0]!;
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`SHA256SUMS entry for ${file} is not a sha256: ${JSON.stringify(hex)}`);
  return hex;
}
