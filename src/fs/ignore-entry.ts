import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * Makes sure `<dir>/.gitignore` ignores `entry` (a directory such as `.homelab/`): creates the
 * file when there is none, appends one line when the entry is missing, and otherwise leaves the
 * file exactly as it is. Never rewrites what is there: a user's .gitignore is theirs.
 */
export async function ensureIgnored(dir: string, entry: string, comment?: string): Promise<"created" | "added" | "present"> {
  const file = join(dir, ".gitignore");
  const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  const bare = entry.replace(/^\/+|\/+$/g, "");
  const block = `${comment === undefined ? "" : `# ${comment}\n`}${entry}\n`;
  if (text === undefined) {
    // "wx": if someone created it in the meantime, fail rather than replace it.
    await appendFile(file, block, { flag: "wx" });
    return "created";
  }
  const present = text.split(/\r?\n/).some((line) => line.trim().replace(/^\/+|\/+$/g, "") === bare);
  if (present) return "present";
  await appendFile(file, `${text === "" || text.endsWith("\n") ? "" : "\n"}${block}`);
  return "added";
}
