import { lstat, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";
import { UnsafePathError } from "../errors.js";

/** Whether `path` is `root` itself or lies under it (both absolute and already resolved). */
export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * The one containment check for a name under a root (a bundle directory, a build directory, a
 * registry). Names read back from disk (a bundle marker, a build record, a catalog) are hostile
 * until checked: someone may have edited them, or planted a symlink, so that a write or a delete
 * lands outside the root.
 *
 * Refuses an empty name, NUL, an absolute name, and any empty, `.` or `..` segment (no
 * normalising: `a/../b` is refused, not read as `b`). Walks the components that exist: a symlink
 * among them must resolve inside the root (a dangling one is refused, its target cannot be
 * checked). Returns the absolute path under the root's real path; components that do not exist
 * yet are the caller's to create (mkdir without `recursive` through this same check).
 *
 * The check and the use are two system calls: a process that swaps a directory for a symlink in
 * between can still win the race. It guards against planted and edited content, not against a
 * concurrent attacker with write access to the root.
 */
export async function resolveInside(root: string, name: string): Promise<string> {
  const realRoot = await realpath(root);
  const refuse = (reason: string) => new UnsafePathError(root, name, reason);
  if (typeof name !== "string" || name === "") throw refuse("an empty name");
  if (name.includes("\0")) throw refuse("a NUL byte in the name");
  if (isAbsolute(name)) throw refuse("an absolute path");
  const parts = name.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) throw refuse("an empty, '.' or '..' path segment");
  let path = realRoot;
  for (const part of parts) {
    path = join(path, part);
    let isLink: boolean;
    try {
      isLink = (await lstat(path)).isSymbolicLink();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") break; // the rest does not exist yet
      throw err;
    }
    if (!isLink) continue;
    let target: string;
    try {
      target = await realpath(path);
    } catch {
      throw refuse(`${relative(realRoot, path)} is a symlink that leads nowhere`);
    }
    if (!isWithin(realRoot, target)) throw refuse(`${relative(realRoot, path)} is a symlink that leads outside`);
  }
  return join(realRoot, ...parts);
}
