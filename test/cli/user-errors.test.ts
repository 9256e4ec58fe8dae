import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, runCli, type CliResult } from "../support/cli.js";
import { Sentinel } from "../support/sentinel-file.js";

/**
 * Mistakes a user can make, through the real CLI: each ends with one line on stderr, exit 1 or
 * 2, and no stack trace. The listening tests bind on 127.0.0.1 only; "an address this machine
 * does not have" is 192.0.2.1 (TEST-NET-1, RFC 5737): the bind is refused locally, nothing is sent.
 */

let cwd: string;
let sentinel: Sentinel;
let busy: Server;
let busyPort: number;

beforeAll(async () => {
  expect(Sentinel.readsAreVisible()).toBe(true);
  sentinel = Sentinel.plant();
  cwd = mkdtempSync(join(tmpdir(), "homelab-user-errors-"));
  mkdirSync(join(cwd, "registry"));
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => busy.close(() => resolve()));
  sentinel.expectUntouched();
  sentinel.remove();
});

function expectOneLine(r: CliResult, code: 1 | 2, says: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.split("\n").filter(Boolean), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(says);
}

describe("box serve", () => {
  it("a port in use: exit 1, names the address", async () => {
    const r = await runCli(["box", "serve", "--root", "registry", "--port", String(busyPort)], { cwd });
    expectOneLine(r, 1, new RegExp(`^homelab: 127\\.0\\.0\\.1:${busyPort}: address already in use .*\\(listen\\)\\n$`));
  });

  it.each(["99999", "65536", "-1", "abc", "80a", "1e3", ""])("--port %j: exit 2", async (port) => {
    const r = await runCli(["box", "serve", "--root", "registry", "--port", port], { cwd });
    expectOneLine(r, 2, /^homelab: --port: expected a port from 0 to 65535/);
  });

  it("an address this machine does not have: exit 2", async () => {
    const r = await runCli(["box", "serve", "--root", "registry", "--host", "192.0.2.1", "--port", "0"], { cwd });
    expectOneLine(r, 2, /^homelab: 192\.0\.2\.1(:0)?: this machine has no such address/);
  });
});

describe("init", () => {
  it("-c into a directory that does not exist: exit 2, nothing created", async () => {
    const r = await runCli(["init", "-c", "missing/dir/x.yaml"], { cwd });
    expectOneLine(r, 2, /^homelab: missing\/dir\/x\.yaml: the directory missing\/dir does not exist \(create it first\)\n$/);
    expect(readdirSync(cwd).sort()).toEqual(["registry"]);
  });

  it("-c naming a directory (EISDIR with --force): exit 2, the user's files in it survive", async () => {
    mkdirSync(join(cwd, "somedir"));
    writeFileSync(join(cwd, "somedir", "notes.txt"), "mine");
    const plain = await runCli(["init", "-c", "somedir"], { cwd });
    expectOneLine(plain, 2, /^homelab: somedir is a directory; init writes a file there\n$/);
    const forced = await runCli(["init", "-c", "somedir", "--force"], { cwd });
    expectOneLine(forced, 2, /^homelab: somedir is a directory; init writes a file there\n$/);
    expect(readFileSync(join(cwd, "somedir", "notes.txt"), "utf8")).toBe("mine");
  });
});

describe("reading a config that is not a file", () => {
  it.each([
    ["a directory", "somedir2", /^homelab: somedir2: 1 problem in the config\n {2}somedir2:1:1: a directory, expected a YAML file\n$/],
    ["a FIFO (no writer: must not block)", "fifo.yaml", /fifo\.yaml:1:1: a FIFO, expected a YAML file/],
    ["a device", "/dev/zero", /\/dev\/zero:1:1: a device, expected a YAML file/],
  ])("%s: exit 2, located", async (_what, path, says) => {
    if (path === "somedir2") mkdirSync(join(cwd, path), { recursive: true });
    if (path === "fifo.yaml") execFileSync("mkfifo", [join(cwd, path)]);
    // Every command that reads a config, versions bump included (it reads the text to rewrite it).
    for (const args of [["validate", "-c", path], ["versions", "bump", "-c", path]]) {
      const r = await runCli(args, { cwd });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(says);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });
});

describe("a reader that stops early (`homelab box serve --help | head -1`)", () => {
  it("ends quietly: no EPIPE stack trace on stderr, exit 0", async () => {
    for (const args of [["box", "serve", "--help"], ["schema"]]) {
      // `| true`: the reader is gone before node has started, so every write meets a closed pipe (EPIPE), never by luck.
      const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile("bash", ["-c", '"$0" "$@" 2>"$ERRFILE" | true; echo "rc=${PIPESTATUS[0]}"', process.execPath, BIN, ...args], { env: { ...process.env, ERRFILE: join(cwd, "epipe.err") } }, (_err, stdout) => {
          resolve({ code: Number(/rc=(\d+)/.exec(stdout)?.[1]), stderr: readFileSync(join(cwd, "epipe.err"), "utf8") });
        });
      });
      expect(r.stderr, r.stderr).not.toMatch(/EPIPE|^\s+at /m);
      expect(r.code, r.stderr).toBe(0);
    }
  });
});
