import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TarFormatError, TarReader, type TarEntry } from "../../src/box/tar-reader.js";
import { needTool } from "../support/tools.js";
import { tempDir } from "./support.js";
import { TARFILE_TOOL } from "./tar-corpus.js";

/**
 * Header details no tool on this machine writes by default, made by editing one field of an
 * archive a real tool wrote (and fixing its checksum): old tars' signed checksums, GNU base-256
 * numbers, and damage a reader must notice instead of misframing the stream.
 */

const tmp = tempDir("homelab-tar-reader-");
afterAll(tmp.cleanup);

function read(bytes: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  const r = new TarReader({ onEntry: (e) => void entries.push(e), maxCapture: 0 });
  r.push(bytes);
  r.finish();
  return entries;
}

function failure(bytes: Buffer): string {
  try {
    read(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(TarFormatError);
    return (err as Error).message;
  }
  throw new Error("the archive was accepted");
}

/** Rewrites a header's checksum field; `signed` computes it the way some old tars did. */
function fixChecksum(buf: Buffer, at: number, signed = false): void {
  buf.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) {
    const b = buf[at + i]!;
    sum += signed && b > 127 ? b - 256 : b;
  }
  buf.write(`${sum.toString(8).padStart(6, "0")}\0 `, at + 148, "latin1");
}

function pythonTar(members: object[], format = "gnu"): Buffer {
  const file = join(tmp.path, `py-${Math.random().toString(36).slice(2)}.tar`);
  execFileSync("python3", [TARFILE_TOOL, "members", format, file], { input: JSON.stringify(members) });
  return readFileSync(file);
}

describe.skipIf(!needTool("python3"))("TarReader details", () => {
  it("accepts a signed checksum (old tars) over a name with high bytes", () => {
    const tar = pythonTar([{ name: "ünïcode", data: "x" }]);
    fixChecksum(tar, 0, true);
    expect(read(tar).map((e) => e.path)).toEqual(["ünïcode"]);
    tar[0] = tar[0]! ^ 1; // a different name with the old checksum: refused
    expect(failure(tar)).toMatch(/not a tar archive/);
  });

  it("reads GNU base-256 sizes and refuses negative ones", () => {
    const size = 9 * 2 ** 30 + 1;
    const header = pythonTar([{ name: "big", size }]);
    expect(header[124]! & 0x80).toBe(0x80); // Python wrote base-256: 9 GiB does not fit 11 octal digits
    const seen: number[] = [];
    const r = new TarReader({ onEntry: (e) => void seen.push(e.size), maxCapture: 0 });
    r.push(header);
    expect(seen).toEqual([size]);
    expect(() => r.finish()).toThrow(/truncated/);
    header[124] = 0xff;
    fixChecksum(header, 0);
    expect(failure(header)).toMatch(/negative size/);
  });

  it("refuses a malformed pax record", () => {
    const tar = pythonTar([{ name: "é".repeat(10), data: "x" }], "pax");
    const text = tar.toString("latin1");
    const at = text.indexOf(" path=");
    expect(at).toBeGreaterThan(512);
    tar.write("9", at - 2, "latin1"); // the record's length no longer ends at its newline
    expect(failure(tar)).toMatch(/malformed pax extended header/);
  });

  it.skipIf(!needTool("tar"))("refuses an old GNU sparse map that does not add up to the stored data", () => {
    const src = join(tmp.path, "sparse");
    mkdirSync(src);
    execFileSync("dd", ["if=/dev/urandom", `of=${join(src, "s.raw")}`, "bs=4096", "count=1", "seek=16", "status=none"]);
    execFileSync("truncate", ["-s", "1M", join(src, "s.raw")]);
    const file = join(tmp.path, "sparse.tar");
    execFileSync("tar", ["--format=gnu", "-S", "-cf", file, "-C", src, "s.raw"]);
    const tar = readFileSync(file);
    expect(String.fromCharCode(tar[156]!)).toBe("S");
    expect(read(tar)[0]).toMatchObject({ path: "s.raw", size: 1 << 20, storedSize: 4096, sparse: true });
    // First slot's length (bytes 398..409): 4096 → 2048.
    tar.write("00000004000", 386 + 12, "latin1");
    fixChecksum(tar, 0);
    expect(failure(tar)).toMatch(/sparse map describes 2048 bytes of data, but 4096 are stored/);
  });

  it("refuses a global header with nothing after it and an empty archive", () => {
    expect(failure(Buffer.alloc(0))).toMatch(/not a tar archive/);
    expect(failure(Buffer.alloc(1024))).toMatch(/starts with an empty block/);
    const tar = pythonTar([{ name: "x".repeat(150), data: "" }]);
    expect(failure(Buffer.concat([tar.subarray(0, 1024), Buffer.alloc(1024)]))).toMatch(/ends after an extended header/);
  });

  it("captures a member split across pushes of one byte", () => {
    const tar = pythonTar([{ name: "a", data: "first" }, { name: "metadata.json", data: '{"provider":"libvirt"}' }]);
    const got: string[] = [];
    const r = new TarReader({ onEntry: (e) => e.path === "metadata.json", onCapture: (_e, d) => void got.push(d.toString()), maxCapture: 100 });
    for (let i = 0; i < tar.length; i++) r.push(tar.subarray(i, i + 1));
    r.finish();
    expect(got).toEqual(['{"provider":"libvirt"}']);
  });
});
