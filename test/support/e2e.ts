import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MAKE_IMAGE = fileURLToPath(new URL("../fixtures/debian-base/make-image.sh", import.meta.url));

/** The offline Debian 12 base image (built once with debootstrap, then cached by its inputs). */
export function debianBaseImage(): { image: string; sha256: string } {
  const out = execFileSync("bash", [MAKE_IMAGE], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const kv = Object.fromEntries(out.trim().split("\n").map((l) => l.split("=", 2) as [string, string]));
  return { image: kv.image as string, sha256: kv.sha256 as string };
}

/** Running qemu processes whose command line matches `pattern` (a unique name or path). */
export function qemuProcesses(pattern: string): string[] {
  try {
    return execFileSync("pgrep", ["-af", `qemu-system.*${pattern}`], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.includes("pgrep"));
  } catch {
    return [];
  }
}

/**
 * A libvirt box `homelab build` really made from the offline Debian base image (kubeadm, bake
 * none: the e2e config of build.e2e), built in a work directory kept across runs: the build's own
 * cache makes every later run a cache hit (a few seconds) until the inputs change (the scripts,
 * the renderer, the base image). Returns the work directory (its builds/ holds the box).
 */
export function cachedClusterBox(bin: string): { workDir: string; config: string } {
  const base = debianBaseImage();
  const cacheRoot = process.env.HOMELAB_FIXTURE_CACHE ?? join(homedir(), ".cache", "homelab", "fixtures");
  const dir = join(cacheRoot, "e2e-cluster-box");
  mkdirSync(dir, { recursive: true });
  // qemu runs as libvirt's user: the box file is only copied by vagrant, but the VM disks of the build live below.
  const config = [
    "org: ci",
    "debian: {}",
    "base:",
    `  image: ${base.image}`,
    `  checksum: sha256:${base.sha256}`,
    "k8s: {distribution: kubeadm, bake: none}",
    "providers: [libvirt]",
    "",
  ].join("\n");
  writeFileSync(join(dir, "homelab.yaml"), config);
  execFileSync("flock", [join(dir, ".lock"), process.execPath, bin, "build", "--compression-level", "1", "--no-version-check"], {
    cwd: dir,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1" },
  });
  return { workDir: join(dir, ".homelab"), config };
}
