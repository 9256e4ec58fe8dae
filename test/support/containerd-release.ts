/**
 * A REAL containerd 2.x and runc, laid out as their GitHub releases are, for tests that cannot
 * reach GitHub: the e2e build installs them in a real VM, the script tests run the real
 * containerd's `config dump`.
 *
 * Where the binaries come from (deb.debian.org is reachable here and in CI, GitHub is not):
 * - containerd 2.1.9: Debian sid's `containerd 2.1.9+ds1-5` (its binaries need only glibc 2.34,
 *   so they run on bookworm's 2.36).
 * - runc: bookworm's own `runc 1.1.5+ds1-1+deb12u1`. sid's runc 1.3.6+ds1-1 cannot be used: it
 *   needs GLIBC_2.38 (`objdump -T usr/sbin/runc`; it fails to start on bookworm), and so does
 *   trixie's 1.1.15. Debian's runc is dynamically linked (libseccomp2, present on bookworm);
 *   upstream's runc.amd64 is static. Either runs containerd's runc shim the same way.
 * Each .deb is found in the suite's Packages.xz index by its Filename and verified against the
 * index's SHA256 before it is unpacked.
 *
 * The layout served (containerd/containerd docs/getting-started.md and the release assets at
 * v2.3.4; opencontainers/runc release assets): `containerd-<v>-linux-amd64.tar.gz` holding
 * `bin/containerd`, `bin/containerd-shim-runc-v2`, `bin/ctr`, next to
 * `containerd-<v>-linux-amd64.tar.gz.sha256sum` ("digest  name"); `runc.amd64` next to
 * `runc.sha256sum` (one "digest  name" line per asset). Built once and cached by its inputs.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const MIRROR = process.env.DEBIAN_MIRROR ?? "http://deb.debian.org/debian";

export const RELEASE_CONTAINERD = { version: "2.1.9", suite: "sid", package: "containerd", debVersion: "2.1.9+ds1-5" } as const;
export const RELEASE_RUNC = { version: "1.1.5", suite: "bookworm", package: "runc", debVersion: "1.1.5+ds1-1+deb12u1" } as const;

export interface RuntimeRelease {
  /** Directory laid out as the download bases: `containerd/v<v>/...` and `runc/v<v>/...`. */
  root: string;
  containerd: { version: string; sha256: string };
  runc: { version: string; sha256: string };
  /** The real containerd binary (for `containerd config dump` on the host). */
  containerdBin: string;
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

async function get(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** The Packages stanza of `name` at `version` in a suite's amd64 index: its Filename and SHA256. */
async function findDeb(suite: string, name: string, version: string): Promise<{ filename: string; sha256: string }> {
  const xz = await get(`${MIRROR}/dists/${suite}/main/binary-amd64/Packages.xz`);
  const text = execFileSync("xz", ["-dc"], { input: xz, maxBuffer: 512 * 2 ** 20 }).toString("utf8");
  for (const stanza of text.split("\n\n")) {
    const field = (f: string) => new RegExp(`^${f}: (.*)$`, "m").exec(stanza)?.[1];
    if (field("Package") === name && field("Version") === version) {
      const filename = field("Filename");
      const digest = field("SHA256");
      if (filename === undefined || digest === undefined) break;
      return { filename, sha256: digest };
    }
  }
  throw new Error(`${name} ${version} is not in Debian ${suite}'s Packages index (${MIRROR}); the pin in test/support/containerd-release.ts needs a newer version`);
}

/** Downloads a .deb, checks it against the index, unpacks it into `into`. */
async function unpackDeb(suite: string, name: string, version: string, into: string): Promise<void> {
  const { filename, sha256: expected } = await findDeb(suite, name, version);
  const deb = await get(`${MIRROR}/${filename}`);
  const actual = sha256(deb);
  if (actual !== expected) throw new Error(`${filename}: sha256 ${actual}, the index says ${expected}`);
  const file = join(into, "pkg.deb");
  writeFileSync(file, deb);
  execFileSync("dpkg-deb", ["-x", file, into]);
  rmSync(file);
}

let cached: Promise<RuntimeRelease> | undefined;

/** The release files (built on first use, then from the cache). */
export function runtimeRelease(): Promise<RuntimeRelease> {
  cached ??= build();
  return cached;
}

/** The release files by the request path a server answers them at (for serveFixtures). */
export function releaseRoutes(release: RuntimeRelease): Record<string, Buffer> {
  const routes: Record<string, Buffer> = {};
  const c = `containerd/v${release.containerd.version}`;
  const tgz = `containerd-${release.containerd.version}-linux-amd64.tar.gz`;
  const r = `runc/v${release.runc.version}`;
  for (const path of [`${c}/${tgz}`, `${c}/${tgz}.sha256sum`, `${r}/runc.amd64`, `${r}/runc.sha256sum`]) {
    routes[`/${path}`] = readFileSync(join(release.root, path));
  }
  return routes;
}

/** The real containerd binary of the release, for host-side `config dump`. */
export async function realContainerd(): Promise<{ containerd: string }> {
  return { containerd: (await runtimeRelease()).containerdBin };
}

async function build(): Promise<RuntimeRelease> {
  const cacheRoot = process.env.HOMELAB_FIXTURE_CACHE ?? join(homedir(), ".cache", "homelab", "fixtures");
  const key = sha256(JSON.stringify([RELEASE_CONTAINERD, RELEASE_RUNC, readFileSync(new URL(import.meta.url))])).slice(0, 16);
  const root = join(cacheRoot, `runtime-release-${key}`);
  const c = RELEASE_CONTAINERD.version;
  const tgz = `containerd-${c}-linux-amd64.tar.gz`;
  const paths = { tgz: join(root, "containerd", `v${c}`, tgz), runc: join(root, "runc", `v${RELEASE_RUNC.version}`, "runc.amd64") };
  if (!existsSync(join(root, "done"))) {
    mkdirSync(cacheRoot, { recursive: true });
    const stage = mkdtempSync(join(cacheRoot, ".runtime-release-"));
    try {
      const ctd = join(stage, "ctd");
      const runc = join(stage, "runc");
      mkdirSync(ctd);
      mkdirSync(runc);
      await unpackDeb(RELEASE_CONTAINERD.suite, RELEASE_CONTAINERD.package, RELEASE_CONTAINERD.debVersion, ctd);
      await unpackDeb(RELEASE_RUNC.suite, RELEASE_RUNC.package, RELEASE_RUNC.debVersion, runc);
      // Upstream's layout: bin/ at the top of the tarball.
      const bin = join(stage, "tree", "bin");
      mkdirSync(bin, { recursive: true });
      for (const b of ["containerd", "containerd-shim-runc-v2", "ctr"]) execFileSync("cp", [join(ctd, "usr", "bin", b), join(bin, b)]);
      const cdir = join(stage, "out", "containerd", `v${c}`);
      const rdir = join(stage, "out", "runc", `v${RELEASE_RUNC.version}`);
      mkdirSync(cdir, { recursive: true });
      mkdirSync(rdir, { recursive: true });
      execFileSync("tar", ["--owner=0", "--group=0", "--numeric-owner", "-czf", join(cdir, tgz), "-C", join(stage, "tree"), "bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr"]);
      writeFileSync(join(cdir, `${tgz}.sha256sum`), `${sha256(readFileSync(join(cdir, tgz)))}  ${tgz}\n`);
      execFileSync("cp", [join(runc, "usr", "sbin", "runc"), join(rdir, "runc.amd64")]);
      writeFileSync(join(rdir, "runc.sha256sum"), `${sha256(readFileSync(join(rdir, "runc.amd64")))}  runc.amd64\n`);
      execFileSync("cp", [join(ctd, "usr", "bin", "containerd"), join(stage, "out", "containerd-bin")]);
      writeFileSync(join(stage, "out", "done"), "");
      rmSync(root, { recursive: true, force: true });
      renameSync(join(stage, "out"), root);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  }
  return {
    root,
    containerd: { version: c, sha256: sha256(readFileSync(paths.tgz)) },
    runc: { version: RELEASE_RUNC.version, sha256: sha256(readFileSync(paths.runc)) },
    containerdBin: join(root, "containerd-bin"),
  };
}
