import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectBox } from "../../src/box/inspect.js";
import { MAX_EXTRACTED_BYTES, MAX_MEMBERS } from "../../src/box/box-members.js";
import { InputError } from "../../src/errors.js";
import { needTool } from "../support/tools.js";
import { makeBox, runCli, tempDir } from "./support.js";
import { TARFILE_TOOL } from "./tar-corpus.js";

/**
 * Boxes made to escape or exhaust: every one is refused as "not a usable Vagrant box" with the
 * reason (an InputError: exit 2 from the CLI), before anything is published. The archives come
 * from real tar writers (Python's tarfile member by member, GNU tar) so each header is one a
 * tool really writes.
 */

const META = JSON.stringify({ provider: "libvirt", format: "qcow2", virtual_size: 1 });
const tmp = tempDir("homelab-hostile-box-");
afterAll(tmp.cleanup);

interface Member {
  name: string;
  type?: "file" | "directory" | "symlink" | "hardlink" | "char-device" | "block-device" | "fifo";
  linkname?: string;
  data?: string;
  /** Header only, with this size. */
  size?: number;
}

let n = 0;
/** An archive with exactly these members, written by Python's tarfile. */
function archive(members: Member[], opts: { format?: "gnu" | "pax" | "ustar"; global?: string } = {}): string {
  const file = join(tmp.path, `hostile-${++n}.box`);
  execFileSync("python3", [TARFILE_TOOL, "members", opts.format ?? "gnu", file, ...(opts.global ? ["--global", opts.global] : [])], {
    input: JSON.stringify(members),
  });
  return file;
}

const meta: Member = { name: "metadata.json", data: META };

async function refusal(file: string): Promise<string> {
  const err = await inspectBox(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `${file} was accepted`).toBeInstanceOf(InputError);
  const message = (err as InputError).message;
  expect(message).toContain("not a usable Vagrant box");
  return message;
}

describe.skipIf(!needTool("python3"))("hostile boxes", () => {
  it("a well-formed box made the same way is accepted (the cases below fail for their reason only)", async () => {
    const file = archive([{ name: "Vagrantfile", data: "x" }, { name: "dir", type: "directory" }, { name: "dir/link", type: "symlink", linkname: "../Vagrantfile" }, { name: "hard", type: "hardlink", linkname: "Vagrantfile" }, meta]);
    expect((await inspectBox(file)).entries).toBe(5);
  });

  describe("members that would land outside the box", () => {
    it.each([
      ["an absolute path", [{ name: "/etc/cron.d/evil", data: "x" }, meta], /absolute path/],
      ["a '..' component", [{ name: "../evil", data: "x" }, meta], /'\.\.' component/],
      ["'..' after a directory", [{ name: "a/../../evil", data: "x" }, meta], /'\.\.' component/],
      ["backslashes (bsdtar -s '|\\\\|/|' in Vagrant)", [{ name: "..\\..\\evil", data: "x" }, meta], /'\.\.' component/],
      ["a Windows drive", [{ name: "C:\\evil", data: "x" }, meta], /absolute path/],
      ["a GNU long name with '..'", [{ name: `../${"a".repeat(150)}`, data: "x" }, meta], /'\.\.' component/],
      ["an absolute symlink", [{ name: "link", type: "symlink", linkname: "/etc/passwd" }, meta], /points to "\/etc\/passwd", outside the box/],
      ["a symlink out by '..'", [{ name: "a/link", type: "symlink", linkname: "../../secret" }, meta], /outside the box/],
      ["a symlink out through another symlink", [{ name: "s", type: "symlink", linkname: "." }, { name: "l", type: "symlink", linkname: "s/../escape" }, meta], /through symlink "s"/],
      ["a member under a symlink", [{ name: "d", type: "symlink", linkname: "." }, { name: "d/x", data: "x" }, meta], /lies under symlink "d"/],
      ["a hard link out by '..'", [{ name: "h", type: "hardlink", linkname: "../../etc/passwd" }, meta], /hard link "h" points to "\.\.\/\.\.\/etc\/passwd", outside the box/],
      ["an absolute hard link", [{ name: "h", type: "hardlink", linkname: "/etc/shadow" }, meta], /outside the box/],
      ["a hard link to nothing before it", [{ name: "h", type: "hardlink", linkname: "later" }, { name: "later", data: "x" }, meta], /not a file earlier in the box/],
    ] as [string, Member[], RegExp][])("refuses %s", async (_what, members, reason) => {
      expect(await refusal(archive(members))).toMatch(reason);
    });

    it("refuses a pax path override with '..' (the ustar name says something harmless)", async () => {
      const file = archive([{ name: `../${"é".repeat(60)}`, data: "x" }, meta], { format: "pax" });
      expect(readFileSync(file).toString("latin1")).toMatch(/\d+ path=\.\.\//);
      expect(await refusal(file)).toMatch(/'\.\.' component/);
    });

    it("refuses a global pax header renaming every member", async () => {
      expect(await refusal(archive([meta], { format: "pax", global: "path=../../evil" }))).toMatch(/'\.\.' component/);
    });

    it("refuses an absolute member written by GNU tar -P", async () => {
      const inside = join(tmp.path, "abs-src");
      mkdirSync(inside);
      writeFileSync(join(inside, "metadata.json"), META);
      const file = join(tmp.path, "gnu-absolute.box");
      execFileSync("tar", ["-P", "-cf", file, join(inside, "metadata.json")]);
      expect(await refusal(file)).toMatch(/absolute path/);
    });
  });

  describe("members a box never holds", () => {
    it.each([
      ["char-device", /is a char-device/],
      ["block-device", /is a block-device/],
      ["fifo", /is a fifo/],
    ] as const)("refuses a %s", async (type, reason) => {
      expect(await refusal(archive([{ name: "dev", type }, meta]))).toMatch(reason);
    });

    it("refuses a real FIFO archived by GNU tar", async () => {
      const src = join(tmp.path, "fifo-src");
      mkdirSync(src);
      writeFileSync(join(src, "metadata.json"), META);
      execFileSync("mkfifo", [join(src, "pipe")]);
      const file = join(tmp.path, "fifo.box");
      execFileSync("tar", ["-cf", file, "-C", src, "metadata.json", "pipe"]);
      expect(await refusal(file)).toMatch(/member "pipe" is a fifo/);
    });

    it("refuses two metadata.json (which one would Vagrant read?)", async () => {
      const other = JSON.stringify({ provider: "virtualbox" });
      expect(await refusal(archive([meta, { name: "./metadata.json", data: other }]))).toMatch(/metadata\.json appears twice/);
      expect(await refusal(archive([{ name: "Vagrantfile", data: "a" }, { name: "Vagrantfile", data: "b" }, meta]))).toMatch(/"Vagrantfile" appears twice/);
    });

    it("refuses a metadata.json that is a link", async () => {
      const file = archive([{ name: "real.json", data: META }, { name: "metadata.json", type: "hardlink", linkname: "real.json" }]);
      expect(await refusal(file)).toMatch(/metadata\.json is a hardlink/);
    });

    it("refuses a link or directory that claims data (tar tools disagree where the next member starts)", async () => {
      expect(await refusal(archive([{ name: "d", type: "directory", size: 1024 }, meta]))).toMatch(/a directory member with 1024 bytes of data/);
      expect(await refusal(archive([{ name: "l", type: "symlink", linkname: "x", size: 512 }, meta]))).toMatch(/a symlink member with 512 bytes/);
    });
  });

  describe("bombs and truncation, bounded", () => {
    it("refuses a member declaring more than the extraction bound at its header, without reading on", async () => {
      const file = archive([meta, { name: "huge.img", size: 2 ** 41 }]);
      expect(statSync(file).size).toBeLessThan(64 * 1024);
      expect(await refusal(file)).toMatch(new RegExp(`more than ${MAX_EXTRACTED_BYTES} bytes when extracted`));
    });

    it.skipIf(!needTool("truncate"))("refuses a GNU tar -S archive of a 2 TiB sparse file (a few KiB on disk)", async () => {
      const src = join(tmp.path, "sparse-bomb");
      mkdirSync(src);
      writeFileSync(join(src, "metadata.json"), META);
      execFileSync("truncate", ["-s", "2T", join(src, "disk.raw")]);
      const file = join(tmp.path, "sparse-bomb.box");
      execFileSync("tar", ["-S", "-czf", file, "-C", src, "metadata.json", "disk.raw"]);
      expect(statSync(file).size).toBeLessThan(64 * 1024);
      expect(await refusal(file)).toMatch(/more than \d+ bytes when extracted \(member "disk.raw" declares 2199023255552\)/);
    });

    it(`refuses more than ${MAX_MEMBERS} members`, async () => {
      const many: Member[] = Array.from({ length: MAX_MEMBERS + 1 }, (_, i) => ({ name: `f${i}`, data: "" }));
      expect(await refusal(archive([meta, ...many]))).toMatch(new RegExp(`more than ${MAX_MEMBERS} members`));
    });

    it("refuses a member whose declared size runs past the end of the archive", async () => {
      expect(await refusal(archive([meta, { name: "disk.img", size: 1 << 30 }]))).toMatch(/truncated/);
    });

    it.each([
      ["in a member's data", 0.5],
      ["in a header", -1],
    ] as const)("refuses a box truncated %s, plain and gzip'ed", async (_where, at) => {
      for (const gzip of [false, true]) {
        const file = makeBox(tmp.path, `trunc-${gzip}-${at}`, { gzip, imageBytes: 256 * 1024 });
        const size = statSync(file).size;
        // A header: 100 bytes into metadata.json's (it comes last, after Vagrantfile's header
        // and block and box.img's header and data); gzip'ed: the end of the stream.
        const cut = at > 0 ? Math.floor(size * at) : gzip ? size - 8 : 512 + 512 + 512 + 256 * 1024 + 100;
        truncateSync(file, cut);
        expect(await refusal(file)).toMatch(gzip ? /truncated|corrupt gzip|unexpected end/i : /truncated/);
      }
    });

    it("refuses an endless run of extended headers", async () => {
      // 20 GNU long-name headers in a row, each naming the next member: Python writes one per member, so chain them by hand.
      const one = archive([{ name: "x".repeat(150), data: "" }]);
      const block = readFileSync(one).subarray(0, 1024); // the 'L' header and its one-block name
      const file = join(tmp.path, "meta-run.box");
      writeFileSync(file, Buffer.concat([...Array.from({ length: 20 }, () => block), readFileSync(archive([meta]))]));
      expect(await refusal(file)).toMatch(/extended headers in a row/);
    });
  });

  describe("provider and architecture names from metadata.json", () => {
    it.each(["../../tmp/x", "LibVirt", "lib virt", "..", "libvirt\n", "libvirt/x", "a".repeat(40), "-libvirt", "lib\u0000virt"])(
      "refuses provider %j",
      async (provider) => {
        const file = archive([{ name: "metadata.json", data: JSON.stringify({ provider }) }]);
        expect(await refusal(file)).toMatch(/metadata\.json's provider .* is not a provider name/);
      },
    );

    it.each(["libvirt", "virtualbox", "vmware_desktop", "hyperv", "docker", "qemu", "parallels"])("accepts Vagrant's provider %s", async (provider) => {
      const file = archive([{ name: "metadata.json", data: JSON.stringify({ provider }) }]);
      expect((await inspectBox(file)).metadata.provider).toBe(provider);
    });

    it("refuses an architecture that is not Vagrant's, normalises the aliases, checks the published one", async () => {
      for (const architecture of ["../x", "AMD64", "amd64 ", 64]) {
        const file = archive([{ name: "metadata.json", data: JSON.stringify({ provider: "libvirt", architecture }) }]);
        expect(await refusal(file)).toMatch(/metadata\.json's architecture .* is not one of amd64, arm64/);
      }
      const x86 = archive([{ name: "metadata.json", data: JSON.stringify({ provider: "libvirt", architecture: "x86_64" }) }]);
      expect((await inspectBox(x86)).metadata.architecture).toBe("amd64");
      expect((await inspectBox(x86, "libvirt", "x86_64")).metadata.architecture).toBe("amd64");
      const err = await inspectBox(x86, "libvirt", "arm64").catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/says architecture "amd64", but it was published as "arm64"/);
    });
  });

  describe("through the CLI", () => {
    let outside: string;
    let registry: string;
    beforeAll(() => {
      // A sentinel where a traversing provider name would write: <outside>/x-amd64.box.
      outside = join(tmp.path, "outside");
      registry = join(tmp.path, "cli", "registry");
      mkdirSync(outside);
      mkdirSync(join(tmp.path, "cli"));
      writeFileSync(join(outside, "x-amd64.box"), "sentinel: not homelab's\n");
    });

    it.each([
      ["a provider that climbs out of the registry", () => archive([{ name: "metadata.json", data: JSON.stringify({ provider: `${relative(join(registry, "acme", "evil", "1.0.0"), outside)}/x` }) }]), /is not a provider name/],
      ["a member with '..'", () => archive([{ name: "../../outside/x-amd64.box", data: "evil" }, meta]), /'\.\.' component/],
      ["a symlink out", () => archive([{ name: "link", type: "symlink", linkname: outside }, meta]), /outside the box/],
    ] as [string, () => string, RegExp][])("exits 2 with the reason for %s, and nothing outside changes", async (_what, make, reason) => {
      const file = make();
      const r = await runCli(["box", "publish", file, "--name", "acme/evil", "--version", "1.0.0", "--registry", registry]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).toContain("not a usable Vagrant box");
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(readdirSync(outside)).toEqual(["x-amd64.box"]);
      expect(readFileSync(join(outside, "x-amd64.box"), "utf8")).toBe("sentinel: not homelab's\n");
      expect(existsSync(join(registry, "acme", "evil", "catalog.json"))).toBe(false);
    });
  });
});
