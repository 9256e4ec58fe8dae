import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { releaseRoutes, runtimeRelease } from "./containerd-release.js";
import { type FixtureServer, serveFixtures } from "./fixture-server.js";

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
 * Port of the server that hands the build VM containerd's and runc's releases (the VM reaches it
 * as 10.0.2.2). Fixed, not random: the URL is part of the config and so of the bundle hash, and
 * build.e2e and cluster.e2e must build the very same box (the cluster e2e takes build.e2e's).
 */
export const E2E_RELEASES_PORT = 38_619;

function fixtureCache(): string {
  return process.env.HOMELAB_FIXTURE_CACHE ?? join(homedir(), ".cache", "homelab", "fixtures");
}

/**
 * The e2e box's homelab.yaml (Debian from the offline base image, kubeadm v1.35.1, bake none,
 * containerd 2.1.9 and runc from test/support/containerd-release.ts) and the server those
 * releases come from, started; close it after the build.
 */
export async function e2eBoxProject(): Promise<{ config: string; releases: FixtureServer }> {
  const base = debianBaseImage();
  const runtime = await runtimeRelease();
  const releases = await serveFixtures(releaseRoutes(runtime), E2E_RELEASES_PORT);
  const guestUrl = `http://10.0.2.2:${E2E_RELEASES_PORT}`;
  // No GitHub here: containerd 2.1.9 (so Kubernetes 1.35 by containerd's support table).
  const config = [
    "org: ci",
    "debian: {}",
    "base:",
    `  image: ${base.image}`,
    `  checksum: sha256:${base.sha256}`,
    "k8s:",
    "  distribution: kubeadm",
    "  version: v1.35.1",
    "  bake: none",
    `  containerd: {version: ${runtime.containerd.version}, sha256: "sha256:${runtime.containerd.sha256}", url: "${guestUrl}/containerd"}`,
    `  runc: {version: ${runtime.runc.version}, sha256: "sha256:${runtime.runc.sha256}", url: "${guestUrl}/runc"}`,
    "providers: [libvirt]",
    "",
  ].join("\n");
  return { config, releases };
}

/** Where the cluster e2e keeps its box project (across runs). */
function clusterBoxDir(): string {
  return join(fixtureCache(), "e2e-cluster-box");
}

/**
 * build.e2e hands the build it just made to the cluster e2e (same config, so the same bundle
 * hash): the build directory is copied into the cluster box project, where the next `homelab
 * build` is a cache hit instead of a second 6-12 minute build in the same CI run.
 */
export function handOverBuild(buildDir: string, config: string): void {
  const dir = clusterBoxDir();
  const target = join(dir, ".homelab", "builds", basename(buildDir));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(join(dir, "homelab.yaml"), config);
  if (!existsSync(target)) cpSync(buildDir, target, { recursive: true });
}

/**
 * A libvirt box `homelab build` really made from the offline Debian base image: the e2e config
 * of build.e2e, built in a work directory kept across runs: the build's own cache (or the build
 * build.e2e handed over) makes it a cache hit until the inputs change (the scripts, the
 * renderer, the base image). Returns the work directory (its builds/ holds the box).
 */
export async function cachedClusterBox(bin: string): Promise<{ workDir: string; config: string }> {
  const dir = clusterBoxDir();
  mkdirSync(dir, { recursive: true });
  const { config, releases } = await e2eBoxProject();
  try {
    writeFileSync(join(dir, "homelab.yaml"), config);
    // Not execFileSync: this process serves the releases while the build runs.
    const child = spawn("flock", [join(dir, ".lock"), process.execPath, bin, "build", "--compression-level", "1", "--no-version-check"], {
      cwd: dir,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1" },
    });
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    if (code !== 0) throw new Error(`homelab build of the cluster e2e box exited ${code}`);
  } finally {
    await releases.close();
  }
  return { workDir: join(dir, ".homelab"), config };
}
