import { execFile } from "node:child_process";
import { access, constants, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { InputError } from "../errors.js";
import { parsePackerVersion, type SemVer } from "./version.js";

/** The environment variable that names the packer binary to use, overriding PATH. */
export const PACKER_ENV = "HOMELAB_PACKER";

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds packer: `$HOMELAB_PACKER` when set (it must then be an executable file: a typo there must
 * not silently fall back to another packer), else the first `packer` on PATH.
 */
export async function findPacker(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const forced = env[PACKER_ENV];
  if (forced !== undefined && forced !== "") {
    const path = isAbsolute(forced) ? forced : resolve(forced);
    if (await isExecutableFile(path)) return path;
    throw new InputError(`${PACKER_ENV}=${forced}: not an executable file`, {
      details: ["point it at the packer binary, or unset it to use the packer on PATH"],
    });
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "packer");
    if (await isExecutableFile(candidate)) return candidate;
  }
  throw new InputError("packer was not found on PATH", {
    details: [
      "install it (Debian: apt-get install packer; or https://developer.hashicorp.com/packer/install)",
      `or set ${PACKER_ENV} to the packer binary`,
    ],
  });
}

/**
 * The environment every packer call gets: no update check (it would reach the internet), and no
 * colour codes in text we parse or quote.
 */
export function packerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { CHECKPOINT_DISABLE: "1", PACKER_NO_COLOR: "1", ...extra };
}

/**
 * Runs `packer version`; never throws. Plain child_process on purpose: this runs on every
 * `homelab generate`, and execa alone costs ~70 ms to import.
 */
export function queryPackerVersion(binary: string): Promise<{ version: SemVer | undefined; output: string }> {
  return new Promise((done) => {
    execFile(binary, ["version"], { env: { ...process.env, ...packerEnv() }, timeout: 30_000 }, (err, stdout, stderr) => {
      const output = stdout || stderr || (err ? err.message : "");
      done({ version: err ? undefined : parsePackerVersion(stdout), output });
    });
  });
}
