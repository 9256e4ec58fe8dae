import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { paint } from "../../src/cli/colour.js";
import { makeBox } from "../box/support.js";
import { BIN, ROOT, runCli } from "../support/cli.js";
import { needTool } from "../support/tools.js";

const tmp = () => mkdtempSync(join(tmpdir(), "homelab-conv-"));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };

const COMMANDS = [
  [],
  ["init"],
  ["validate"],
  ["generate"],
  ["build"],
  ["schema"],
  ["versions"],
  ["versions", "check"],
  ["versions", "bump"],
  ["box"],
  ["box", "publish"],
  ["box", "list"],
  ["box", "rm"],
  ["box", "serve"],
  ["box", "mirror"],
  ["builds"],
  ["clean"],
  ["cluster"],
  ["cluster", "up"],
  ["cluster", "status"],
  ["cluster", "ssh"],
  ["cluster", "down"],
  ["cluster", "list"],
  ["version"],
];

describe("help", () => {
  it.each(COMMANDS.map((c) => [c.join(" ") || "(root)", c]))("%s --help ends with examples that fit 100 columns", async (_, cmd) => {
    const result = await runCli([...(cmd as string[]), "--help"]);
    expect(result.code).toBe(0);
    const examples = result.stdout.split("\nExamples:\n")[1];
    expect(examples, result.stdout).toBeDefined();
    for (const line of examples!.trimEnd().split("\n")) expect(line).toMatch(/^ {2}homelab /);
    for (const line of result.stdout.split("\n")) expect([...line].length, line).toBeLessThanOrEqual(100);
  });
});

describe("version", () => {
  it("`homelab version`, -v, --version and the old -V", async () => {
    const v = await runCli(["version"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`^homelab ${pkg.version.replaceAll(".", "\\.")}\nnode v\\d+\\.\\d+\\.\\d+\npacker .+\n$`));
    for (const flag of ["-v", "--version", "-V"]) expect((await runCli([flag])).stdout).toBe(`${pkg.version}\n`);
  });
});

describe("box conventions", () => {
  it("publish takes --box-version (as vagrant does) and still --version; a bad one names the flag typed", async () => {
    const dir = tmp();
    const box = makeBox(dir, "b");
    const reg = join(dir, "registry");
    const a = await runCli(["box", "publish", box, "--name", "acme/b", "--box-version", "1.0.0", "--registry", reg]);
    expect(a.code, a.stderr).toBe(0);
    const b = await runCli(["box", "publish", box, "--name", "acme/b", "--version", "1.1.0", "--registry", reg]);
    expect(b.code, b.stderr).toBe(0);
    const bad = await runCli(["box", "publish", box, "--name", "acme/b", "--box-version", "1.0", "--registry", reg]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--box-version: expected a version X.Y.Z (three whole numbers, no leading zeros), got "1.0"');
    const old = await runCli(["box", "publish", box, "--name", "acme/b", "--version", "1.0", "--registry", reg]);
    expect(old.stderr).toContain('--version: expected a version X.Y.Z');
    const none = await runCli(["box", "publish", box, "--name", "acme/b", "--registry", reg]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--box-version <X.Y.Z>: required");
  });

  it("list explains the * it puts after the default architecture", async () => {
    const dir = tmp();
    const box = makeBox(dir, "b");
    const reg = join(dir, "registry");
    const published = await runCli(["box", "publish", box, "--name", "acme/b", "--box-version", "1.0.0", "--registry", reg]);
    expect(published.code, published.stderr).toBe(0);
    const list = await runCli(["box", "list", "--registry", reg]);
    expect(list.stdout).toMatch(/ amd64\* /);
    expect(list.stdout.trimEnd().split("\n").at(-1)).toBe("* the provider's default architecture (what Vagrant < 2.4 downloads)");
  });

  /** Starts `box serve` and returns its first line of stdout and its stderr, then stops it. */
  async function serveOnce(args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
    const child = spawn(process.execPath, [BIN, "box", "serve", "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes("\n")) child.kill("SIGTERM");
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { stdout, stderr, code };
  }

  it("serve reads tokens from --token-file; --config still works, with a warning", async () => {
    const dir = tmp();
    const tokens = join(dir, "tokens.json");
    writeFileSync(tokens, JSON.stringify({ writeTokens: ["0123456789abcdef0123"] }));
    const now = await serveOnce(["--root", dir, "--token-file", tokens]);
    expect(now.stdout).toMatch(/^serving .* \(uploads need a token, reads anonymous\)\n$/);
    expect(now.stderr).not.toContain("warning");
    const old = await serveOnce(["--root", dir, "--config", tokens]);
    expect(old.stdout).toMatch(/uploads need a token/);
    expect(old.stderr).toContain("warning: box serve --config is now --token-file");
    const none = await serveOnce(["--root", dir]);
    expect(none.stdout).toMatch(/uploads disabled/);
  });
});

describe("colour", () => {
  it("paints only a terminal, and never with NO_COLOR", () => {
    expect(paint({ isTTY: true }, {}).red("x")).toBe("\u001b[31mx\u001b[39m");
    expect(paint({ isTTY: true }, {}).green("x")).toBe("\u001b[32mx\u001b[39m");
    expect(paint({ isTTY: true }, {}).yellow("x")).toBe("\u001b[33mx\u001b[39m");
    expect(paint({ isTTY: false }, {}).red("x")).toBe("x");
    expect(paint({ isTTY: true }, { NO_COLOR: "1" }).red("x")).toBe("x");
    expect(paint({ isTTY: true }, { TERM: "dumb" }).red("x")).toBe("x");
  });

  it("on a real terminal: errors red, success green; NO_COLOR and --no-color turn it off", async () => {
    if (!needTool("script")) return;
    const dir = tmp();
    // `script` gives the command a pseudo-terminal, as a user's shell would.
    const onTty = (args: string, env: NodeJS.ProcessEnv = {}) =>
      execFileSync("script", ["-qec", `${process.execPath} ${BIN} ${args}`, "/dev/null"], {
        cwd: dir,
        env: { ...process.env, HOMELAB_NO_VERSION_CHECK: "1", NO_COLOR: "", TERM: "xterm", ...env },
        encoding: "utf8",
      });
    expect(onTty("validate --default")).toContain("(embedded default): \u001b[32mok\u001b[39m");
    const fail = () => {
      try {
        return onTty("validate");
      } catch (err) {
        return String((err as { stdout?: string }).stdout);
      }
    };
    expect(fail()).toContain("\u001b[31mhomelab:\u001b[39m no homelab.yaml");
    expect(onTty("validate --default", { NO_COLOR: "1" })).not.toContain("\u001b[");
    expect(onTty("validate --default --no-color")).not.toContain("\u001b[");
    expect(onTty("--no-color validate --default")).toContain("(embedded default): ok");
    // Piped (not a terminal): no colour, whatever the flags.
    expect((await runCli(["validate", "--default"], { cwd: dir })).stdout).toBe("(embedded default): ok (homelab/alpine-3.24-k8snode-kubeadm)\n");
  });
});
