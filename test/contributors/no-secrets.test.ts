import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BOOT_COMMAND } from "../../src/os/alpine.js";
import { renderConfig } from "../../src/generate.js";
import { FLAVOURS, flavour } from "../support/configs.js";
import { needTool } from "../support/tools.js";

/** The insecure public key Vagrant itself ships (keys/vagrant.pub in the vagrant gem). */
function vagrantInsecurePublicKeys(): string[] {
  const path = execFileSync("sh", ["-c", "find /usr /opt -path '*vagrant*/keys/vagrant.pub' 2>/dev/null | head -1"], {
    encoding: "utf8",
  }).trim();
  if (!path) throw new Error("vagrant is installed but its keys/vagrant.pub was not found");
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => /^ssh-/.test(l))
    .map((l) => l.split(/\s+/).slice(0, 2).join(" "));
}

/**
 * Vagrant >= 2.3.5 also ships an ed25519 insecure key (Debian's 2.3.4 has only the RSA one);
 * boxes carry both so that old and new Vagrant clients can log in.
 */
const NEWER_VAGRANT_ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN1YdxBpNlzxDqfJyw/QKow1F+wvG9hXGoqiysfJOn5Y";

describe.skipIf(!needTool("vagrant"))("the bundle carries no secret but the documented Vagrant defaults", () => {
  const known = [...vagrantInsecurePublicKeys(), NEWER_VAGRANT_ED25519];

  it.each(Object.keys(FLAVOURS))("%s", (name) => {
    const config = flavour(name);
    const rendered = renderConfig(config);
    const all = [...rendered.files].map(([path, f]) => ({ path, text: String(f.content) }));
    const text = all.map((f) => f.text).join("\n");

    // No private key material of any kind.
    expect(text).not.toMatch(/PRIVATE KEY|ssh_private_key_file|BEGIN OPENSSH/);
    // Every public key is Vagrant's documented insecure key.
    const keys = [...text.matchAll(/(ssh-(?:rsa|ed25519)|ecdsa-sha2-nistp\d+) (AAAA[0-9A-Za-z+/=]+)/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(known).toContain(key);
    // The only password is "vagrant": in the communicator and where install.sh sets it.
    const passwords = [
      ...text.matchAll(
        /(?:ssh_password\s*=\s*"([^"]*)"|(?:root|vagrant):([^\s"'|]+)\s*\|\s*(?:chroot \S+ )?chpasswd|passwd\/\S*password(?:-again)? password (\S+))/g,
      ),
    ].map((m) => m[1] ?? m[2] ?? m[3]);
    expect(passwords.length).toBeGreaterThan(0);
    // Besides the Vagrant default, only the login the user gave for their own base image.
    const allowed = new Set(["vagrant", ...(config.base ? [config.base.ssh.password] : [])]);
    for (const p of passwords) expect(allowed).toContain(p);
    // The Debian preseed never gives root a password.
    expect(text).not.toMatch(/passwd\/root-password(?:-again)? password \S/);
    if (!rendered.files.has("http/answers")) return;
    // The answer file sets no password, user or key of its own.
    const answers = rendered.files.get("http/answers")!.content.toString();
    expect(answers).toMatch(/^USEROPTS="none"$/m);
    expect(answers).not.toMatch(/PASS|KEY=|-k /);
    expect(answers).toMatch(/^SSHDOPTS="openssh"$/m);
  });

  it("the typed boot command holds no credential", () => {
    expect(BOOT_COMMAND.join(" ")).not.toMatch(/pass|vagrant|key/i);
    expect(BOOT_COMMAND).toHaveLength(2);
  });
});
