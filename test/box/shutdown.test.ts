import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { get, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { publishBox } from "../../src/box/publish.js";
import { CLI, makeBox, tempDir, WRITE_TOKEN } from "./support.js";

const tmp = tempDir();
afterAll(tmp.cleanup);

describe("homelab box serve: graceful shutdown on SIGTERM", () => {
  it("lets an in-flight download finish, discards an upload in progress, leaves no temp file, exits 0", async () => {
    const root = join(tmp.path, "root");
    const box = makeBox(tmp.path, "big", { imageBytes: 16 << 20 });
    const expected = createHash("sha256").update(readFileSync(box)).digest("hex");
    await publishBox({ file: box, name: "acme/node", version: "1.0.0", registry: root });

    const child = spawn(process.execPath, [CLI, "box", "serve", "--root", root, "--port", "0", "--quiet"], {
      env: { ...process.env, HOMELAB_REGISTRY_WRITE_TOKENS: WRITE_TOKEN },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on("exit", () => reject(new Error(`serve exited early: ${out}`)));
    });
    const port = Number(new URL(url).port);

    // A download that has started but is far from done (the client reads nothing more for now).
    const res = await new Promise<IncomingMessage>((r) => get(`${url}/acme/node/1.0.0/libvirt/amd64`, r));
    expect(res.statusCode).toBe(200);
    res.pause();

    // An upload in progress: headers and part of the body sent.
    const up = connect(port, "127.0.0.1");
    await new Promise((r) => up.once("connect", r));
    let upAnswer = "";
    up.on("data", (d: Buffer) => (upAnswer += d.toString()));
    up.on("error", () => {});
    const upClosed = new Promise((r) => up.once("close", r));
    up.write(`PUT /acme/node/2.0.0/libvirt/amd64 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${WRITE_TOKEN}\r\nContent-Length: ${20 << 20}\r\n\r\n`);
    up.write(readFileSync(box).subarray(0, 1 << 20));
    await waitFor(() => readdirSync(join(root, ".incoming")).length === 1);

    child.kill("SIGTERM");
    await upClosed;
    expect(upAnswer === "" || /^HTTP\/1\.1 503/.test(upAnswer)).toBe(true);

    // The download, resumed after the signal, completes byte for byte.
    const hash = createHash("sha256");
    res.on("data", (c: Buffer) => hash.update(c));
    const ended = new Promise((r) => res.on("end", r));
    res.resume(); // explicitly paused above: a 'data' listener alone would not restart it
    await ended;
    expect(hash.digest("hex")).toBe(expected);

    expect(await exited).toBe(0);
    expect(readdirSync(join(root, ".incoming"))).toEqual([]);
    const catalog = JSON.parse(readFileSync(join(root, "acme/node/catalog.json"), "utf8"));
    expect(catalog.versions.map((v: { version: string }) => v.version)).toEqual(["1.0.0"]);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
