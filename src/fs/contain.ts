import { realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { InputError } from "../errors.js";

/** A path that would leave the directory it must stay in (bad input: exit 2). */
export class PathEscapeError extends InputError {
  constructor(
    readonly root: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${JSON.stringify(path)}: ${reason} (it must stay inside ${root})`);
  }
}

/**
 * The one containment check for a path under a root: joins `segments` to `root` and returns the
 * real (symlink-free) absolute path, or throws PathEscapeError when a segment is absolute, holds
 * a `..` component or a NUL byte, or when the real path (links resolved) is outside the root's
 * real path. A path whose tail does not exist yet is checked on its deepest existing ancestor, so
 * the result is also safe to create.
 */
export async function resolveInside(root: string, ...segments: string[]): Promise<string> {
  const shown = segments.join("/");
  for (const segment of segments) {
    if (segment.includes("\0")) throw new PathEscapeError(root, shown, "contains a NUL byte");
    if (isAbsolute(segment)) throw new PathEscapeError(root, shown, "is absolute");
    if (segment.split(/[\\/]/).includes("..")) throw new PathEscapeError(root, shown, "contains ..");
  }
  const realRoot = await realpath(resolve(root));
  const real = await realpathOfExistingPart(join(realRoot, ...segments));
  const rel = relative(realRoot, real);
  if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new PathEscapeError(root, shown, "leads outside through a symbolic link");
  }
  return real;
}

/** realpath of the deepest existing ancestor, with the missing tail appended unchanged. */
async function realpathOfExistingPart(path: string): Promise<string> {
  const missing: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(await realpath(current), ...missing.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      const parent = dirname(current);
      if (parent === current) throw err;
      missing.push(basename(current));
      current = parent;
    }
  }
}
