import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "../box/support.js";
import { needTool } from "../support/tools.js";

/**
 * scripts/s3-server.sh, the radosgw that .ci/run starts for the S3 tests: a second, private
 * cluster on free ports in a temporary directory (the one CI started keeps running), started,
 * answering S3, stopped with every daemon gone, and started again on the data it kept.
 */
const SCRIPT = resolve(import.meta.dirname, "../../scripts/s3-server.sh");
const have = needTool("radosgw") && needTool("ceph-mon") && needTool("ceph-osd") && needTool("curl");

describe.skipIf(!have)("scripts/s3-server.sh", () => {
  const tmp = tempDir("homelab-s3script-");
  const dir = join(tmp.path, "cluster");
  let env: NodeJS.ProcessEnv = {};
  afterAll(() => {
    spawnSync("bash", [SCRIPT, "stop", dir], { env: { ...process.env, ...env } });
    tmp.cleanup();
  });

  it("passes shellcheck", () => {
    const r = spawnSync("shellcheck", [SCRIPT], { encoding: "utf8" });
    expect(r.status, r.stdout).toBe(0);
  });

  it("starts radosgw on loopback, writes the env file, stops every daemon, starts again on its data, leaves a user's file", async () => {
    env = { HOMELAB_S3_PORT: String(await freePort()), HOMELAB_S3_MON_PORT: String(await freePort()) };
    mkdirSync(dir);
    writeFileSync(join(dir, "NOTES.txt"), "mine");
    const script = (cmd: string) => spawnSync("bash", [SCRIPT, cmd, dir], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 180_000 });
    const start = script("start");
    expect(start.status, start.stderr + start.stdout).toBe(0);
    const vars = Object.fromEntries([...readFileSync(join(dir, "env"), "utf8").matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(vars.HOMELAB_TEST_S3_ENDPOINT).toBe(`http://127.0.0.1:${env.HOMELAB_S3_PORT}`);
    expect(script("status").status).toBe(0);
    // An S3 answer (ListBuckets refused without a signature is still S3 speaking XML).
    const curl = spawnSync("curl", ["-s", vars.HOMELAB_TEST_S3_ENDPOINT!], { encoding: "utf8" });
    expect(curl.stdout).toMatch(/<\?xml|ListAllMyBucketsResult|Error/);
    const pids = ["rgw", "osd", "mon"].map((d) => Number(readFileSync(join(dir, "run", `${d}.pid`), "utf8")));

    expect(script("stop").status).toBe(0);
    for (const pid of pids) expect(running(pid), `pid ${pid} still running`).toBe(false);
    expect(script("status").status).not.toBe(0);

    const again = script("start");
    expect(again.status, again.stderr).toBe(0);
    expect(script("status").status).toBe(0);
    expect(script("stop").status).toBe(0);
    expect(readFileSync(join(dir, "NOTES.txt"), "utf8")).toBe("mine");
  }, 300_000);

  it("refuses bad usage with exit 2", () => {
    const r = spawnSync("bash", [SCRIPT, "explode", dir], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage/);
  });
});

function running(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/status`)) return false;
  return !/^State:\s*Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}
