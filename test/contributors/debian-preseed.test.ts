import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { renderConfig } from "../../src/generate.js";
import { Sandbox } from "../support/sandbox.js";
import { needTool } from "../support/tools.js";

/**
 * The Debian 12 preseed a bundle ships (assets/http/debian-preseed.cfg with the config's mirror)
 * cannot be proven without a 10-minute installer run, so this checks everything that can be run
 * offline: Debian's own parser accepts every line, the answers that make the box what homelab
 * promises are there, and the late_command really writes a sudoers file that the real visudo
 * accepts.
 */
const ASSET = resolve(dirname(fileURLToPath(import.meta.url)), "../../assets/http/debian-preseed.cfg");
const shippedPreseed = (yaml: string) => String(renderConfig(parseConfig(yaml)).files.get("http/debian-preseed.cfg")!.content);
const text = shippedPreseed("debian: {}\n");

interface Answer {
  owner: string;
  question: string;
  type: string;
  value: string;
}

/**
 * Parse a preseed file by debconf-set-selections' rules: `#` lines and blank lines are skipped, a
 * trailing backslash continues the line, then "owner question type value" split on the first
 * three runs of whitespace.
 */
function parsePreseed(source: string): Answer[] {
  const logical: string[] = [];
  let pending = "";
  for (const raw of source.split("\n")) {
    if (pending === "" && /^\s*(#|$)/.test(raw)) continue;
    if (raw.endsWith("\\")) {
      pending += raw.slice(0, -1);
      continue;
    }
    logical.push(pending + raw);
    pending = "";
  }
  if (pending) logical.push(pending);
  return logical.map((line) => {
    const m = /^\s*(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
    if (!m) throw new Error(`unparseable preseed line: ${line}`);
    return { owner: m[1]!, question: m[2]!, type: m[3]!, value: (m[4] ?? "").trim() };
  });
}

const answers = parsePreseed(text);

function answer(question: string): Answer {
  const found = answers.filter((a) => a.question === question);
  if (found.length !== 1) throw new Error(`expected exactly one answer for ${question}, found ${found.length}`);
  return found[0]!;
}

/** The partitions of a partman expert_recipe: "name :: part . part . ..." */
function recipePartitions(recipe: string): string[] {
  const body = recipe.split("::")[1];
  if (body === undefined) throw new Error(`not an expert_recipe: ${recipe}`);
  return body
    .split(/\s\.(?:\s|$)/)
    .map((p) => p.replace(/\s+/g, " ").trim())
    .filter(Boolean);
}

describe.skipIf(!needTool("debconf-set-selections"))("debian-preseed.cfg is valid debconf input", () => {
  const tmp = mkdtempSync(join(tmpdir(), "homelab-preseed-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  function checkonly(path: string) {
    return spawnSync("debconf-set-selections", ["--checkonly", path], { encoding: "utf8" });
  }

  it.each([["the default mirror", "debian: {}\n"], ["an https mirror with a port", "debian: {mirror: 'https://mirror.example.org:8443/debian/'}\n"]])(
    "debconf-set-selections --checkonly accepts every line of the shipped preseed without a warning (%s)",
    (_name, yaml) => {
      const path = join(tmp, "shipped.cfg");
      writeFileSync(path, shippedPreseed(yaml));
      const r = checkonly(path);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    },
  );

  it("the same check rejects a broken copy (so the check above has teeth)", () => {
    const broken = join(tmp, "broken.cfg");
    writeFileSync(broken, text.replace("d-i pkgsel/include string", "d-i pkgsel/include strnig").replace("d-i time/zone string UTC", "d-i time/zone"));
    const r = checkonly(broken);
    expect(r.stderr).toMatch(/Unknown type strnig/);
    expect(r.stderr).toMatch(/parse error on line \d+: 'd-i time\/zone'/);
    expect(r.status).not.toBe(0);
  });
});

describe("debian-preseed.cfg answers", () => {
  it("no question is answered twice (a second late_command would silently replace the first)", () => {
    const keys = answers.map((a) => `${a.owner} ${a.question}`);
    expect(keys.length).toBe(new Set(keys).size);
  });

  it("partitions the whole disk as one ext4 root and no swap", () => {
    expect(answer("partman-auto/method").value).toBe("regular");
    // partman-auto/disk unset: the single disk is used whatever its name (vda or sda).
    expect(answers.find((a) => a.question === "partman-auto/disk")).toBeUndefined();
    const recipe = answer("partman-auto/expert_recipe").value;
    const name = recipe.split("::")[0]!.trim();
    expect(answer("partman-auto/choose_recipe").value).toBe(name);

    const parts = recipePartitions(recipe);
    for (const part of parts) {
      expect(part).not.toMatch(/method\{ swap \}|linux-swap|\bswap\b/);
    }
    const mounted = parts.filter((p) => /mountpoint\{/.test(p));
    expect(mounted).toHaveLength(1);
    expect(mounted[0]).toMatch(/mountpoint\{ \/ \}/);
    expect(mounted[0]).toMatch(/filesystem\{ ext4 \}/);
    // The root takes the rest of the disk (max size -1).
    expect(mounted[0]).toMatch(/^\d+ \d+ -1 ext4 /);
    // Every other partition is a boot-firmware helper that only exists on a GPT label.
    for (const p of parts.filter((x) => x !== mounted[0])) {
      expect(p).toMatch(/\$bios_boot\{ \}|\$iflabel\{ gpt \}/);
      expect(p).toMatch(/method\{ (biosgrub|efi) \}/);
    }
    // Without this answer partman stops to ask about the missing swap.
    expect(answer("partman-basicfilesystems/no_swap")).toMatchObject({ type: "boolean", value: "false" });
  });

  it("sets no password but Vagrant's documented default, and none for root", () => {
    const secrets = answers.filter((a) => a.type === "password");
    expect(secrets.map((a) => a.question).sort()).toEqual(["passwd/user-password", "passwd/user-password-again"]);
    for (const s of secrets) expect(s.value).toBe("vagrant");
    expect(answer("passwd/username").value).toBe("vagrant");
    expect(answer("passwd/root-login")).toMatchObject({ type: "boolean", value: "false" });
    expect(answers.filter((a) => /root-password|crypted/.test(a.question))).toEqual([]);
    // No key material or other credentials hidden in commands.
    expect(text).not.toMatch(/PRIVATE KEY|ssh-(rsa|ed25519) AAAA|authorized_keys/);
  });

  it("installs openssh-server and sudo, no task, no popularity-contest", () => {
    expect(answer("pkgsel/include").value.split(/\s+/)).toEqual(expect.arrayContaining(["openssh-server", "sudo"]));
    expect(answer("tasksel/first")).toMatchObject({ owner: "tasksel", type: "multiselect", value: "" });
    expect(answer("popularity-contest/participate")).toMatchObject({ owner: "popularity-contest", value: "false" });
  });

  it("ships the asset as it is for the default mirror (the asset shows what a default bundle carries)", () => {
    expect(text).toBe(readFileSync(ASSET, "utf8"));
  });

  it("answers the mirror questions with debian.mirror of homelab.yaml", () => {
    const custom = parsePreseed(shippedPreseed("debian: {mirror: 'https://mirror.example.org:8443/debian/'}\n"));
    const mirror = custom.filter((a) => a.question.startsWith("mirror/")).map((a) => `${a.question} ${a.value}`);
    expect(mirror).toEqual([
      "mirror/country manual",
      "mirror/protocol https",
      "mirror/https/hostname mirror.example.org:8443",
      "mirror/https/directory /debian",
      "mirror/https/proxy ",
      "mirror/suite bookworm",
    ]);
    expect(parsePreseed(shippedPreseed("debian: {mirror: 'http://10.0.0.5'}\n")).find((a) => a.question === "mirror/http/directory")?.value).toBe("/");
  });

  it("uses deb.debian.org over http, DHCP, en_US.UTF-8 and the us keymap", () => {
    expect(answer("mirror/http/hostname").value).toBe("deb.debian.org");
    expect(answer("mirror/protocol").value).toBe("http");
    expect(answer("netcfg/choose_interface").value).toBe("auto");
    expect(answer("netcfg/disable_autoconfig").value).toBe("false");
    expect(answer("debian-installer/locale").value).toBe("en_US.UTF-8");
    expect(answer("keyboard-configuration/xkb-keymap").value).toBe("us");
  });

  it("installs grub on the first disk whatever its name and reboots without asking", () => {
    expect(answer("grub-installer/bootdev").value).toBe("default");
    expect(answer("finish-install/reboot_in_progress").type).toBe("note");
  });
});

describe.skipIf(!needTool("visudo") || !needTool("bwrap") || !needTool("busybox"))("the preseed late_command, run for real", () => {
  const late = answer("preseed/late_command").value;

  it("writes a sudoers file visudo accepts, mode 0440, and disables the cdrom apt source", async () => {
    const sb = await Sandbox.create({
      files: {
        "/etc/sudoers.d/README": "# placeholder shipped by the sudo package\n",
        "/etc/apt/sources.list": [
          "# deb cdrom:[Debian GNU/Linux 12.15.0 _Bookworm_ - Official amd64 NETINST]/ bookworm main",
          "deb cdrom:[Debian GNU/Linux 12.15.0 _Bookworm_ - Official amd64 NETINST]/ bookworm main",
          "deb http://deb.debian.org/debian bookworm main",
          "",
        ].join("\n"),
      },
      // The installer's in-target chroots into /target; the sandbox root plays /target.
      shims: { "in-target": '"$@"' },
    });
    try {
      const r = await sb.exec(["/bb/sh", "-c", late]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(sb.callsOf("in-target")).toHaveLength(1);

      const sudoers = sb.read("/etc/sudoers.d/vagrant");
      expect(sudoers).toMatch(/^vagrant ALL=\(ALL(:ALL)?\) NOPASSWD: ?ALL\n$/);
      expect(sb.mode("/etc/sudoers.d/vagrant")).toBe(0o440);
      const check = spawnSync("visudo", ["-c", "-f", sb.path("/etc/sudoers.d/vagrant")], { encoding: "utf8" });
      expect(check.stderr + check.stdout).toMatch(/parsed OK/);
      expect(check.status).toBe(0);

      const sources = sb.read("/etc/apt/sources.list").split("\n");
      expect(sources.filter((l) => /^deb cdrom:/.test(l))).toEqual([]);
      expect(sources).toContain("deb http://deb.debian.org/debian bookworm main");
    } finally {
      sb.dispose();
    }
  });

  it("visudo rejects a broken sudoers line (so the check above has teeth)", () => {
    const dir = mkdtempSync(join(tmpdir(), "homelab-sudoers-"));
    try {
      const file = join(dir, "vagrant");
      writeFileSync(file, "vagrant ALL=(ALL NOPASSWD: ALL\n", { mode: 0o440 });
      const check = spawnSync("visudo", ["-c", "-f", file], { encoding: "utf8" });
      expect(check.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
