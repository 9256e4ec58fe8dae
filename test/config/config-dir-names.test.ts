import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { decodeJsonTemplate, parseHcl } from "../support/hcl.js";
import { Sentinel } from "../support/sentinel-file.js";
import { needTool } from "../support/tools.js";

/**
 * Real directories with awkward names hold homelab.yaml. A relative base.image is resolved
 * against that directory and lands in the bundle, so the loader must refuse (exit 2, naming
 * base.image) what Packer would misread or HCL would alter, and accept the rest, which the real
 * `packer validate` then accepts. Without base.image, the directory's name never reaches the
 * bundle and any name works.
 */

const CHECKSUM = `sha256:${"ab".repeat(32)}`;
const WITH_IMAGE = `base:\n  image: ./base.qcow2\n  checksum: ${CHECKSUM}\n`;

const REFUSED: Array<{ name: string; dir: string; says: RegExp }> = [
  { name: "not NFC (e + combining acute)", dir: "cafe\u0301", says: /not in Unicode NFC form/ },
  { name: "%{ (an HCL directive, a URL escape)", dir: "a%{b", says: /contains "%"/ },
  { name: "a valid URL escape", dir: "a%41b", says: /contains "%"/ },
  { name: "a newline", dir: "two\nlines", says: /control character "\\n"/ },
  { name: "an ESC sequence", dir: "red\u001b[31m", says: /control character "\\u001b"/ },
  { name: "a question mark (a URL query)", dir: "why?", says: /contains "\?"/ },
  { name: "a hash (a URL fragment)", dir: "no#1", says: /contains "#"/ },
  { name: "a bidi override", dir: "abc\u202edef", says: /control character/ },
];

const ACCEPTED = ["café", "my lab", "a=b,c@d", "it's", "a;b&c", "$HOME", "${x}", "日本"];

let root: string;
let sentinel: Sentinel;
const havePacker = needTool("packer");

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "homelab-dirnames-"));
  sentinel = Sentinel.plant();
});
afterAll(() => {
  sentinel.expectUntouched();
  sentinel.remove();
});

function configIn(dir: string, text: string): string {
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, dir, "homelab.yaml"), text);
  writeFileSync(join(root, dir, "base.qcow2"), "not really an image");
  return join(dir, "homelab.yaml");
}

function expectOneLineEach(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
}

describe("a config directory whose name cannot go into the bundle", () => {
  it.each(REFUSED)("$name: exit 2 naming base.image, nothing written", async ({ dir, says }) => {
    const out = `out-${Math.random().toString(36).slice(2)}`;
    const r = await runCli(["generate", "-c", configIn(dir, WITH_IMAGE), "-o", out, "--packer-version", "1.6.6", "--no-version-check"], { cwd: root });
    expect(r.code, r.stderr).toBe(2);
    expectOneLineEach(r.stderr);
    expect(r.stderr).toMatch(/homelab\.yaml"?:2:10: base\.image: expected a local path Packer can use/);
    expect(r.stderr).toMatch(says);
    expect(existsSync(join(root, out))).toBe(false);
  });
});

describe.skipIf(!havePacker)("names that work, checked by the real packer validate", () => {
  it.each(ACCEPTED)("%s with base.image: the bundle names the image by its absolute path", async (dir) => {
    const out = `out-${Math.random().toString(36).slice(2)}`;
    const r = await runCli(["generate", "-c", configIn(dir, WITH_IMAGE), "-o", out, "--packer-version", "1.6.6", "--no-version-check"], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    const vars = await parseHcl("vars.pkr.hcl", readFileSync(join(root, out, "homelab.auto.pkrvars.hcl"), "utf8"));
    expect(decodeJsonTemplate(vars.base_image as string)).toBe(join(root, dir, "base.qcow2"));
    execFileSync("packer", ["validate", "."], { cwd: join(root, out), env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
  });

  it.each(REFUSED.map((c) => c.dir))("%j without base.image: the name never reaches the bundle", async (dir) => {
    const out = `out-${Math.random().toString(36).slice(2)}`;
    const r = await runCli(["generate", "-c", configIn(`plain-${dir}`, "org: acme\n"), "-o", out, "--packer-version", "1.6.6", "--no-version-check"], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expectOneLineEach(r.stdout);
    execFileSync("packer", ["validate", "."], { cwd: join(root, out), env: { ...process.env, CHECKPOINT_DISABLE: "1" } });
  });
});

describe("messages about such a file stay on one line", () => {
  it("a bad config in a directory named with a newline and an ESC", async () => {
    const r = await runCli(["validate", "-c", configIn("x\n\u001b[2Jy", "org: Bad\n")], { cwd: root });
    expect(r.code).toBe(2);
    expectOneLineEach(r.stderr);
    expect(r.stderr).toContain('"x\\n\\u001b[2Jy/homelab.yaml":1:6: org:');
  });
});
