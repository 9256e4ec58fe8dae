import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, linkSync, mkdirSync, openSync, symlinkSync, writeFileSync, writeSync, ftruncateSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A corpus of tar archives written at test time by the real tools on this machine: GNU tar in
 * each --format (sparse files with -S, in every sparse version), bsdtar (libarchive) in its
 * formats, and Python's tarfile in its formats; each plain and gzip'ed. The trees hold what a
 * box reader must get right: long names and long link targets, hard and symbolic links, a file
 * with 60+ data segments and holes, files ending in a hole or made only of a hole, a sparse file
 * larger than 8 GiB (base-256 size fields), a name of exactly 100 bytes, a non-ASCII name.
 */

export const TARFILE_TOOL = join(dirname(fileURLToPath(import.meta.url)), "tarfile-tool.py");

const LONG_DIR = join("d".repeat(60), "e".repeat(60));
export const LONG_PATH = join(LONG_DIR, `${"f".repeat(80)}.txt`);

export interface Trees {
  /** Everything (GNU, oldgnu, pax). */
  full: string;
  /** What ustar can store: no link target over 100 bytes. */
  ustar: string;
  /** What v7 can store: no name over 99 bytes. */
  v7: string;
  /** metadata.json + a 9 GiB sparse file. */
  big: string;
}

/** The source trees the archives are made of (in a fresh temporary directory). */
export function makeTrees(root: string): Trees {
  const trees: Trees = { full: join(root, "full"), ustar: join(root, "ustar"), v7: join(root, "v7"), big: join(root, "big") };
  for (const [kind, dir] of Object.entries(trees) as [keyof Trees, string][]) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "metadata.json"), JSON.stringify({ provider: "libvirt", format: "qcow2", virtual_size: 2 }));
    if (kind === "big") {
      sparseFile(join(dir, "big.raw"), 9 * 2 ** 30, [[5 * 2 ** 30, 8192]]);
      continue;
    }
    writeFileSync(join(dir, "Vagrantfile"), 'Vagrant.configure("2") do |config|\n  config.vm.provider :libvirt\nend\n');
    writeFileSync(join(dir, "box.img"), randomBytes(64 * 1024 + 100));
    writeFileSync(join(dir, "empty"), "");
    writeFileSync(join(dir, "block512"), randomBytes(512));
    writeFileSync(join(dir, "ünïcödé.txt"), "non-ASCII name\n");
    mkdirSync(join(dir, "dir"));
    writeFileSync(join(dir, "dir", "nested.txt"), "nested\n");
    symlinkSync("Vagrantfile", join(dir, "vagrantfile-link"));
    linkSync(join(dir, "box.img"), join(dir, "box-hardlink.img"));
    // 60 data segments of varied lengths in 4 MiB, each on a 4 KiB boundary so every tool and
    // file system sees the same holes.
    const segments: [number, number][] = [];
    for (let i = 0; i < 60; i++) segments.push([i * 65536 + (i % 3) * 4096, 4096 * (1 + (i % 4))]);
    sparseFile(join(dir, "sparse.raw"), 4 << 20, segments);
    sparseFile(join(dir, "hole-end.raw"), 1 << 20, [[0, 8192]]);
    sparseFile(join(dir, "all-hole.raw"), 2 << 20, []);
    if (kind === "v7") continue;
    writeFileSync(join(dir, "x".repeat(100)), "a name of exactly 100 bytes\n");
    mkdirSync(join(dir, LONG_DIR), { recursive: true });
    writeFileSync(join(dir, LONG_PATH), "a path longer than 100 bytes\n");
    if (kind === "ustar") continue;
    symlinkSync(LONG_PATH, join(dir, "long-link"));
  }
  return trees;
}

function sparseFile(file: string, size: number, data: readonly (readonly [number, number])[]): void {
  const fd = openSync(file, "w");
  try {
    ftruncateSync(fd, size);
    for (const [offset, length] of data) writeSync(fd, randomBytes(length), 0, length, offset);
  } finally {
    closeSync(fd);
  }
}

export interface CorpusSpec {
  /** e.g. "gnutar-pax-sparse1.0-global.tar.gz" */
  readonly name: string;
  readonly tool: "tar" | "bsdtar" | "python3";
  readonly gzip: boolean;
  readonly tree: keyof Trees;
  /** Holes are stored as holes (GNU sparse in one of its forms), not as zeros. */
  readonly sparse: boolean;
  /** Only some members of the tree (create_box.sh's list). */
  readonly partial?: true;
  /** Writes the archive with the real tool. */
  make(file: string, trees: Trees): void;
}

/**
 * Every archive of the corpus, as a list known before anything is built (one test each). GNU
 * tar: every --format; -S wherever the format can store holes (tar refuses it for ustar and v7:
 * "GNU features wanted on incompatible archive format"), in each sparse version. bsdtar:
 * libarchive's pax (its default; it writes GNU sparse 1.0 for holes), ustar, gnutar (no sparse:
 * it stores the holes as zeros) and v7. Python: GNU_FORMAT, PAX_FORMAT (with a global header),
 * USTAR_FORMAT. Each plain and gzip'ed by the tool itself.
 */
export function corpusSpecs(): CorpusSpec[] {
  const specs: CorpusSpec[] = [];
  const run = (cmd: string, args: string[]): void => void execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  for (const gzip of [false, true]) {
    const z = gzip ? ["-z"] : [];
    const ext = gzip ? ".tar.gz" : ".tar";
    const gnu: [string, keyof Trees, string[]][] = [
      ["gnutar-gnu-sparse", "full", ["--format=gnu", "-S"]],
      ["gnutar-oldgnu-sparse", "full", ["--format=oldgnu", "-S"]],
      ["gnutar-pax-sparse0.0", "full", ["--format=pax", "-S", "--sparse-version=0.0"]],
      ["gnutar-pax-sparse0.1", "full", ["--format=pax", "-S", "--sparse-version=0.1"]],
      // With a global header ('g'): --pax-option keyword=value (not :=) is global.
      ["gnutar-pax-sparse1.0-global", "full", ["--format=pax", "-S", "--sparse-version=1.0", "--pax-option=comment=homelab corpus"]],
      ["gnutar-gnu", "full", ["--format=gnu"]],
      ["gnutar-ustar", "ustar", ["--format=ustar"]],
      ["gnutar-v7", "v7", ["--format=v7"]],
      ["gnutar-gnu-big", "big", ["--format=gnu", "-S"]],
      ["gnutar-oldgnu-big", "big", ["--format=oldgnu", "-S"]],
      ["gnutar-pax0.0-big", "big", ["--format=pax", "-S", "--sparse-version=0.0"]],
      ["gnutar-pax0.1-big", "big", ["--format=pax", "-S", "--sparse-version=0.1"]],
      ["gnutar-pax1.0-big", "big", ["--format=pax", "-S", "--sparse-version=1.0"]],
    ];
    for (const [name, tree, flags] of gnu) {
      const sparse = flags.includes("-S");
      specs.push({ name: name + ext, tool: "tar", gzip, tree, sparse, make: (file, t) => run("tar", [...flags, ...z, "-cf", file, "-C", t[tree], "."]) });
    }
    // The way vagrant-libvirt's create_box.sh packs a box: named members, -S, gzip.
    specs.push({
      name: `gnutar-create-box-sh${ext}`,
      tool: "tar",
      gzip,
      tree: "full",
      sparse: true,
      partial: true,
      make: (file, t) => run("tar", ["-S", ...z, "-cf", file, "-C", t.full, "./metadata.json", "./Vagrantfile", "./sparse.raw", "./box.img"]),
    });
    const bsd: [string, keyof Trees, string][] = [
      ["bsdtar-pax", "full", "pax"],
      ["bsdtar-ustar", "ustar", "ustar"],
      ["bsdtar-gnutar", "full", "gnutar"],
      ["bsdtar-v7", "v7", "v7"],
      ["bsdtar-pax-big", "big", "pax"],
    ];
    for (const [name, tree, format] of bsd) {
      specs.push({ name: name + ext, tool: "bsdtar", gzip, tree, sparse: format === "pax", make: (file, t) => run("bsdtar", ["--format", format, ...z, "-cf", file, "-C", t[tree], "."]) });
    }
    const py: [string, keyof Trees, string, string[]][] = [
      ["python-gnu", "full", "gnu", []],
      ["python-pax-global", "full", "pax", ["--global", "comment=homelab corpus"]],
      ["python-ustar", "ustar", "ustar", []],
    ];
    for (const [name, tree, format, extra] of py) {
      specs.push({
        name: name + ext,
        tool: "python3",
        gzip,
        tree,
        sparse: false,
        make: (file, t) => run("python3", [TARFILE_TOOL, "write", format, file, t[tree], ...(gzip ? ["--gzip"] : []), ...extra]),
      });
    }
  }
  return specs;
}
