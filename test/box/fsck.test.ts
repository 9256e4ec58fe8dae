import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseCatalog } from "../../src/box/catalog.js";
import { publishBox } from "../../src/box/publish.js";
import { startRegistryServer } from "../../src/box/server.js";
import { needTool } from "../support/tools.js";
import { CLI, http, makeBox, runCli, tempDir, WRITE_TOKEN } from "./support.js";

/** Issue 12, item 6: junk left by SIGKILLs and full disks is swept on start and by `box fsck`. */
const tmp = tempDir("homelab-fsck-");
afterAll(tmp.cleanup);
const outside = join(tmp.path, "outside");
mkdirSync(outside);
writeFileSync(join(outside, "sentinel"), "sentinel");
const sentinelIntact = (): void => {
  expect(readdirSync(outside)).toEqual(["sentinel"]);
  expect(readFileSync(join(outside, "sentinel"), "utf8")).toBe("sentinel");
};

/** A registry with one box, the junk a killed publish leaves, and files of a user's that look close. */
async function junkRegistry(name: string): Promise<{ reg: string; junk: string[]; mine: string[] }> {
  const reg = join(tmp.path, name);
  const a = makeBox(tmp.path, `${name}-a`);
  await publishBox({ file: a, name: "acme/node", version: "1.0.0", registry: reg });
  // A publish SIGKILLed mid-copy (a real one: the CLI reading a FIFO).
  const fifo = join(tmp.path, `${name}.fifo`);
  await new Promise((r) => spawn("mkfifo", [fifo]).on("exit", r));
  const child = spawn(process.execPath, [CLI, "box", "publish", fifo, "--name", "acme/node", "--version", "2.0.0", "--registry", reg], { stdio: "ignore" });
  const fd = openSync(fifo, "w");
  writeSync(fd, readFileSync(a));
  await waitFor(() => readdirSync(join(reg, ".incoming")).length === 1 && statSync(join(reg, ".incoming", readdirSync(join(reg, ".incoming"))[0]!)).size > 0);
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
  closeSync(fd);
  // What a kill between the rename and the catalog write leaves, and a killed catalog write.
  const orphan = `acme/node/1.0.0/libvirt-amd64-${"b".repeat(64)}.box`;
  copyFileSync(a, join(reg, orphan));
  mkdirSync(join(reg, "acme/node/3.0.0"));
  copyFileSync(a, join(reg, `acme/node/3.0.0/libvirt-arm64-${"c".repeat(64)}.box`));
  writeFileSync(join(reg, "acme/node/.catalog.json.4242.0a1b2c3d.tmp"), "{");
  // A user's files: never touched.
  const mine = ["acme/node/1.0.0/NOTES.txt", "acme/node/README.md", "acme/node/1.0.0/my.box", ".incoming/keep-me.txt", "acme/node/4.0.0/x.txt", "acme/node/.catalog.json.bak"];
  for (const f of mine) {
    mkdirSync(join(reg, f, ".."), { recursive: true });
    writeFileSync(join(reg, f), "mine");
  }
  const part = readdirSync(join(reg, ".incoming")).filter((f) => f.endsWith(".part"));
  expect(part).toHaveLength(1);
  return { reg, mine, junk: [`.incoming/${part[0]}`, orphan, "acme/node/3.0.0", "acme/node/.catalog.json.4242.0a1b2c3d.tmp"] };
}

describe("homelab box fsck", () => {
  it("reports the junk (exit 1), --repair removes it (exit 0), then it is clean; a user's files stay", async () => {
    const { reg, junk, mine } = await junkRegistry("f1");
    const report = await runCli(["box", "fsck", "--registry", reg]);
    expect(report.code, report.stderr).toBe(1);
    for (const kind of ["partial-upload", "orphan-box", "temp-catalog"]) expect(report.stdout).toContain(kind);
    expect(report.stderr.trim().split("\n")).toHaveLength(1);
    for (const j of junk) expect(existsSync(join(reg, j))).toBe(true); // reporting changes nothing
    const repair = await runCli(["box", "fsck", "--repair", "--registry", reg]);
    expect(repair.code, repair.stdout + repair.stderr).toBe(0);
    for (const j of junk) expect(existsSync(join(reg, j)), j).toBe(false);
    for (const f of mine) expect(readFileSync(join(reg, f), "utf8")).toBe("mine");
    const again = await runCli(["box", "fsck", "--registry", reg]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/clean/);
    // The box itself is intact.
    const catalog = parseCatalog(readFileSync(join(reg, "acme/node/catalog.json"), "utf8"), "c");
    expect(catalog.versions.map((v) => v.version)).toEqual(["1.0.0"]);
    sentinelIntact();
  });

  it("a catalog entry whose file is gone: reported, dropped by --repair; a corrupt catalog is only reported", async () => {
    const reg = join(tmp.path, "f2");
    await publishBox({ file: makeBox(tmp.path, "f2a"), name: "acme/gone", version: "1.0.0", registry: reg });
    await publishBox({ file: makeBox(tmp.path, "f2b"), name: "acme/gone", version: "1.1.0", registry: reg });
    await publishBox({ file: makeBox(tmp.path, "f2c"), name: "acme/bad", version: "1.0.0", registry: reg });
    const [file] = readdirSync(join(reg, "acme/gone/1.0.0"));
    unlinkSync(join(reg, "acme/gone/1.0.0", file!));
    writeFileSync(join(reg, "acme/bad/catalog.json"), "not json");
    const report = await runCli(["box", "fsck", "--registry", reg]);
    expect(report.code).toBe(1);
    expect(report.stdout).toMatch(/missing-file\s+acme\/gone\/1\.0\.0/);
    expect(report.stdout).toMatch(/corrupt-catalog\s+acme\/bad\/catalog\.json.*needs a human/);
    const repair = await runCli(["box", "fsck", "--repair", "--registry", reg]);
    expect(repair.code).toBe(1); // the corrupt catalog is left for a human
    expect(readFileSync(join(reg, "acme/bad/catalog.json"), "utf8")).toBe("not json");
    const catalog = parseCatalog(readFileSync(join(reg, "acme/gone/catalog.json"), "utf8"), "c");
    expect(catalog.versions.map((v) => v.version)).toEqual(["1.1.0"]);
  });

  it("refuses a URL (one line, exit 2)", async () => {
    const r = await runCli(["box", "fsck", "--registry", "http://127.0.0.1:1"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("the sweep on server start", () => {
  it("removes the junk (orphans, temp catalogs, a dead publish's upload) and logs each; a user's files stay", async () => {
    const { reg, junk, mine } = await junkRegistry("s1");
    const log: string[] = [];
    const server = await startRegistryServer({ root: reg, port: 0, writeTokens: [WRITE_TOKEN], readTokens: [], log: (l) => log.push(l) });
    await server.close({ graceMs: 100 });
    for (const j of junk) expect(existsSync(join(reg, j)), j).toBe(false);
    for (const f of mine) expect(readFileSync(join(reg, f), "utf8")).toBe("mine");
    const kinds = log.filter((l) => l.startsWith("sweep: removed")).map((l) => l.split(" ")[2]);
    expect(kinds.sort()).toEqual(["empty-version", "orphan-box", "orphan-box", "partial-upload", "temp-catalog"]);
    sentinelIntact();
  });

  it("removes an upload left by a server that ran as PID 1 when it starts as PID 1 again (pid namespace)", async () => {
    if (!needTool("unshare")) return;
    const reg = join(tmp.path, "pid1");
    await publishBox({ file: makeBox(tmp.path, "pid1"), name: "acme/one", version: "1.0.0", registry: reg });
    const first = await servePid1(reg);
    // An upload in progress when the container is killed.
    const sock = connect(first.port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    sock.write(`PUT /acme/one/2.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: 10000000\r\n\r\n`);
    sock.write(readFileSync(makeBox(tmp.path, "pid1-big", { imageBytes: 1 << 20 })).subarray(0, 200_000));
    await waitFor(() => readdirSync(join(reg, ".incoming")).length === 1);
    const [part] = readdirSync(join(reg, ".incoming"));
    expect(part).toMatch(/^1\./); // written by PID 1
    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.on("exit", r));
    sock.destroy();
    expect(readdirSync(join(reg, ".incoming"))).toEqual([part]);
    const second = await servePid1(reg);
    try {
      expect(readdirSync(join(reg, ".incoming"))).toEqual([]);
      expect((await http(`http://127.0.0.1:${second.port}/acme/one`)).status).toBe(200);
    } finally {
      second.child.kill("SIGKILL");
      await new Promise((r) => second.child.on("exit", r));
    }
  });
});

/** `homelab box serve` as PID 1 of a new pid namespace (what a container's entry point is). */
async function servePid1(root: string): Promise<{ child: ChildProcess; port: number }> {
  // Not root: a user namespace of its own makes the pid namespace (and /proc) allowed.
  const asUser = process.getuid?.() === 0 ? [] : ["--map-root-user"];
  const child = spawn("unshare", [...asUser, "--pid", "--fork", "--kill-child", "--mount-proc", process.execPath, CLI, "box", "serve", "--root", root, "--port", "0", "--quiet"], {
    env: { ...process.env, HOMELAB_REGISTRY_WRITE_TOKENS: WRITE_TOKEN },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", () => reject(new Error(`serve exited early: ${out}`)));
  });
  return { child, port };
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
