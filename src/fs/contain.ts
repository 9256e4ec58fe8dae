import { lstatSync, realpathSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { InputError } from "../errors.js";

/**
 * A path under a root (a registry, a build directory) that would lead out of it: an absolute or
 * `..` segment, a NUL byte, or a symlink (planted anywhere on the way) whose target is outside.
 * Such a name comes from input (a URL, a box's metadata, a build record, a bundle marker): exit 2.
 */
export class OutsideRootError extends InputError {}

/**
 * The one containment check: joins `segments` under `root` and returns the path, or throws
 * OutsideRootError when the result could lead out of the root. Segments may hold several
 * components (`1.0.0/libvirt-amd64.box`); each component must be a plain name. The part of the
 * path that exists is resolved with realpath (symlinks included, the last component too) and
 * must stay under the root's real path; a dangling symlink is refused, since creating through
 * it would write wherever it points.
 *
 * The returned path is built on the root's real path, so a symlinked root is fine. A symlink
 * swapped in after the check is not caught (Node has no openat); every caller also opens files
 * with O_NOFOLLOW or creates them with O_EXCL, which closes the last component.
 */
export function resolveInside(root: string, ...segments: string[]): string {
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch (err) {
    throw new OutsideRootError(`${root}: the root does not exist (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const parts: string[] = [];
  for (const segment of segments) {
    if (segment.includes("\0")) throw refuse(root, segments, "contains a NUL byte");
    if (segment.startsWith("/") || segment.startsWith(sep)) throw refuse(root, segments, "is absolute");
    for (const part of segment.split("/")) {
      if (part === "..") throw refuse(root, segments, "contains .. (refused, not normalised)");
      if (part === "" || part === ".") throw refuse(root, segments, "has an empty or '.' component");
      parts.push(part);
    }
  }
  const target = join(realRoot, ...parts);
  // Resolve the deepest existing ancestor (or the target itself): what exists decides where a
  // create, a rename or an unlink would really land.
  let probe = target;
  let vanished = 0;
  for (;;) {
    let exists = true;
    try {
      lstatSync(probe);
    } catch {
      exists = false;
    }
    if (exists) {
      let real: string;
      try {
        real = realpathSync(probe);
      } catch {
        // A file a concurrent rm or force-replace removed between the lstat and the realpath is
        // not a dangling symlink: look again (it is then missing, and its parent decides).
        if (!isSymlink(probe) && ++vanished <= 3) continue;
        throw refuse(root, segments, "leads nowhere (a dangling symlink)");
      }
      if (!isUnder(realRoot, real)) throw refuse(root, segments, "leads outside through a symlink");
      return target;
    }
    if (probe === realRoot) return target;
    probe = dirname(probe);
  }
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Whether `path` (a real path) is `root` or below it. */
export function isUnder(root: string, path: string): boolean {
  const rel = relative(resolve(root), resolve(path));
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !rel.startsWith(sep) && resolve(root, rel) === resolve(path));
}

function refuse(root: string, segments: readonly string[], why: string): OutsideRootError {
  return new OutsideRootError(`${JSON.stringify(segments.join("/"))} under ${root}: refused, it ${why}`);
}
