import { lstat, readdir, readFile, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../errors.js";
import { resolveInside } from "../fs/contain.js";
import { STATE_FILE } from "./state.js";
import { VAGRANTFILE } from "./vagrantfile.js";

/** The files homelab writes in a cluster's directory; anything else there is the user's. */
export const SSH_CONFIG = "ssh-config";
export const KUBECONFIG = "kubeconfig";
export const UP_LOG = "up.log";
export const OWN_FILES = [VAGRANTFILE, STATE_FILE, SSH_CONFIG, KUBECONFIG, UP_LOG] as const;
/** Vagrant's own state for the directory's machines (it writes it on homelab's behalf). */
export const VAGRANT_DIR = ".vagrant";
/** The first line of every Vagrantfile homelab writes: how it knows the file is its own. */
export const VAGRANTFILE_MARK = "# -*- mode: ruby -*-\n# Cluster ";

/** `<workDir>/clusters/<name>`, through the one containment check (the name is validated too). */
export async function clusterDir(workDir: string, name: string): Promise<string> {
  return resolveInside(join(workDir, "clusters"), name);
}

/**
 * Refuses a directory whose Vagrantfile homelab did not write: replacing it would destroy the
 * user's file (and `vagrant destroy` there would act on the user's machines).
 */
export async function checkOwnVagrantfile(dir: string): Promise<void> {
  const text = await readFile(join(dir, VAGRANTFILE), "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (text !== undefined && !(text.startsWith(VAGRANTFILE_MARK) && text.includes("written by homelab"))) {
    throw new InputError(`${join(dir, VAGRANTFILE)}: not a Vagrantfile homelab wrote; refusing to replace it or act on its machines`, {
      details: ["move it elsewhere (homelab writes the cluster's Vagrantfile itself)"],
    });
  }
}

/** Removes homelab's files (and Vagrant's state of its machines) from `dir`; the directory too when nothing else is left. */
export async function removeOwnFiles(dir: string): Promise<{ keptDir: boolean }> {
  for (const name of [...OWN_FILES, VAGRANT_DIR]) await rm(resolveInside(dir, name), { recursive: true, force: true });
  const left = await readdir(dir).catch(() => []);
  if (left.length === 0) {
    await rmdir(dir).catch(() => undefined);
    return { keptDir: false };
  }
  return { keptDir: true };
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
