/**
 * Reads files out of a VM disk image without booting or mounting it: the qcow2 is converted to a
 * sparse raw file, its first partition is found with sfdisk, and debugfs (e2fsprogs) reads the
 * ext4 filesystem at that offset. Used to see what a box really ships (e.g. that sysprep left no
 * machine-id and no SSH host keys), which no running clone can show any more.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GuestDisk {
  /** A file's content, or null when the filesystem has no such file. */
  read(path: string): string | null;
  /** The names in a directory (without . and ..), or null when there is no such directory. */
  list(dir: string): string[] | null;
  close(): void;
}

export function openGuestDisk(qcow2: string): GuestDisk {
  const work = mkdtempSync(join(tmpdir(), "homelab-disk-"));
  const raw = join(work, "disk.raw");
  try {
    execFileSync("qemu-img", ["convert", "-O", "raw", qcow2, raw], { stdio: ["ignore", "ignore", "pipe"] });
    const table = JSON.parse(execFileSync("sfdisk", ["--json", raw], { encoding: "utf8" })) as {
      partitiontable: { sectorsize?: number; partitions: Array<{ start: number }> };
    };
    const first = table.partitiontable.partitions[0];
    if (!first) throw new Error(`${qcow2}: no partition`);
    const fs = `${raw}?offset=${first.start * (table.partitiontable.sectorsize ?? 512)}`;
    // debugfs exits 0 even when a request fails, and says why on stderr (after its version
    // banner): "File not found" means an absent path; anything else (no ext4 at that offset ...)
    // must fail loudly, or an unreadable file would pass for an empty one.
    const debugfs = (request: string): string | null => {
      const r = spawnSync("debugfs", ["-R", request, fs], { encoding: "utf8" });
      const said = r.stderr.split("\n").filter((l) => l.trim() !== "" && !/^debugfs \d/.test(l));
      if (said.length === 1 && /File not found by ext2_lookup/.test(said[0]!)) return null;
      if (r.status !== 0 || said.length > 0) throw new Error(`debugfs -R '${request}' ${fs}: ${r.stderr.trim()}`);
      return r.stdout;
    };
    return {
      read: (path) => debugfs(`cat ${path}`),
      list: (dir) =>
        debugfs(`ls -p ${dir}`)
          ?.split("\n")
          .map((l) => l.split("/")[5])
          .filter((n): n is string => n !== undefined && n !== "" && n !== "." && n !== "..") ?? null,
      close: () => rmSync(work, { recursive: true, force: true }),
    };
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}
