import type { TarEntry } from "./tar-reader.js";

/**
 * What may be inside a box. Vagrant extracts a box with bsdtar into its own directory, so every
 * member must land inside that directory whatever the extracting tool does: no absolute names,
 * no `..`, no links that point out of the box or members reached through a symlink, no devices
 * or FIFOs, no name twice, and bounds on how many members there are and how much extraction
 * would write (a small archive can declare terabytes: sparse files, bogus sizes).
 */

/** A box holds a few files (Vagrantfile, metadata.json, a disk or two, an OVF…). */
export const MAX_MEMBERS = 4096;
/** What extracting a box may write in all (holes of sparse files count). */
export const MAX_EXTRACTED_BYTES = 2 ** 40;

export class UnsafeMemberError extends Error {}

export class BoxMembers {
  private readonly seen = new Map<string, TarEntry["kind"]>();
  private readonly symlinks: { path: string; target: string }[] = [];
  private count = 0;
  private extracted = 0;

  /** Checks one member as it goes by and returns its normalised path ("." for the top directory). */
  add(entry: TarEntry): string {
    if (++this.count > MAX_MEMBERS) throw new UnsafeMemberError(`it has more than ${MAX_MEMBERS} members (a box holds a few files)`);
    const path = memberPath(entry.path);
    const show = JSON.stringify(entry.path);
    if (entry.kind !== "file" && entry.kind !== "directory" && entry.kind !== "symlink" && entry.kind !== "hardlink") {
      const what = entry.kind === "other" ? `of unknown type ${JSON.stringify(entry.typeflag)}` : `a ${entry.kind}`;
      throw new UnsafeMemberError(`member ${show} is ${what}; a box holds only files, directories and links`);
    }
    if (path === "." && entry.kind !== "directory") throw new UnsafeMemberError(`member ${show} names the box's top directory but is a ${entry.kind}`);
    this.extracted += entry.size;
    if (entry.size > MAX_EXTRACTED_BYTES || this.extracted > MAX_EXTRACTED_BYTES) {
      throw new UnsafeMemberError(`its members would take more than ${MAX_EXTRACTED_BYTES} bytes when extracted (member ${show} declares ${entry.size})`);
    }
    const before = this.seen.get(path);
    if (before && !(before === "directory" && entry.kind === "directory")) {
      throw new UnsafeMemberError(path === "metadata.json" ? "metadata.json appears twice" : `member ${JSON.stringify(path)} appears twice`);
    }
    if (entry.kind === "hardlink") {
      let target: string;
      try {
        target = memberPath(entry.linkpath);
      } catch {
        throw new UnsafeMemberError(`hard link ${show} points to ${JSON.stringify(entry.linkpath)}, outside the box`);
      }
      if (this.seen.get(target) !== "file") throw new UnsafeMemberError(`hard link ${show} points to ${JSON.stringify(entry.linkpath)}, which is not a file earlier in the box`);
    }
    if (entry.kind === "symlink") {
      if (entry.linkpath === "" || entry.linkpath.includes("\0")) throw new UnsafeMemberError(`symlink ${show} has no usable target`);
      this.symlinks.push({ path, target: entry.linkpath });
    }
    this.seen.set(path, entry.kind);
    return path;
  }

  /**
   * At the end, when every symlink is known: no member lies under a symlink, and every symlink
   * target, resolved from the link's directory one component at a time, stays inside the box
   * without passing through another symlink.
   */
  finish(): void {
    const isLink = new Set(this.symlinks.map((s) => s.path));
    if (isLink.size === 0) return;
    for (const path of this.seen.keys()) {
      const parts = path.split("/");
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join("/");
        if (isLink.has(dir)) throw new UnsafeMemberError(`member ${JSON.stringify(path)} lies under symlink ${JSON.stringify(dir)}`);
      }
    }
    for (const { path, target } of this.symlinks) {
      const out = `symlink ${JSON.stringify(path)} points to ${JSON.stringify(target)}, outside the box`;
      if (isAbsolute(target)) throw new UnsafeMemberError(out);
      const at = path.split("/").slice(0, -1);
      const steps = target.split(/[\\/]/);
      steps.forEach((step, i) => {
        if (step === "" || step === ".") return;
        if (step === "..") {
          if (at.length === 0) throw new UnsafeMemberError(out);
          at.pop();
          return;
        }
        at.push(step);
        const via = at.join("/");
        if (i < steps.length - 1 && isLink.has(via)) throw new UnsafeMemberError(`symlink ${JSON.stringify(path)} points through symlink ${JSON.stringify(via)}`);
      });
    }
  }
}

/**
 * The path a member extracts to, relative to the box's directory: `./` and empty components
 * dropped. Refuses absolute names (also `C:` and backslashes: Vagrant runs bsdtar with
 * `-s '|\\|/|'`, which turns backslashes into slashes) and any `..` component.
 */
export function memberPath(raw: string): string {
  const show = `member ${JSON.stringify(raw)}`;
  if (raw === "" || raw.includes("\0")) throw new UnsafeMemberError(`${show} has an empty or NUL-containing name`);
  if (isAbsolute(raw)) throw new UnsafeMemberError(`${show} has an absolute path; members must be relative to the box`);
  const parts = raw.split(/[\\/]/).filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new UnsafeMemberError(`${show} has a '..' component and would land outside the box`);
  return parts.length === 0 ? "." : parts.join("/");
}

function isAbsolute(p: string): boolean {
  return p.startsWith("/") || p.startsWith("\\") || /^[A-Za-z]:/.test(p);
}
