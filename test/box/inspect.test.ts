import { execFileSync } from "node:child_process";
import { readFileSync, truncateSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inspectBox } from "../../src/box/inspect.js";
import { InputError } from "../../src/errors.js";
import { makeBox, tempDir } from "./support.js";

const tmp = tempDir();
afterAll(tmp.cleanup);

async function rejection(p: Promise<unknown>): Promise<InputError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}

describe("inspectBox", () => {
  it("reads metadata.json from a tar.gz box where it comes after a large disk image", async () => {
    const box = makeBox(tmp.path, "big", { imageBytes: 3 << 20 });
    const info = await inspectBox(box);
    expect(info.compression).toBe("gzip");
    expect(info.metadata.provider).toBe("libvirt");
    expect(info.metadata.format).toBe("qcow2");
    expect(info.entries).toBe(3);
  });

  it("reads an uncompressed tar box and one written with ./ prefixes", async () => {
    expect((await inspectBox(makeBox(tmp.path, "plain", { gzip: false }))).compression).toBe("none");
    const dir = join(tmp.path, "dot");
    execFileSync("mkdir", ["-p", dir]);
    writeFileSync(join(dir, "metadata.json"), JSON.stringify({ provider: "virtualbox", architecture: "arm64" }));
    const box = join(tmp.path, "dot.box");
    execFileSync("tar", ["-czf", box, "-C", dir, "."]);
    const info = await inspectBox(box);
    expect(info.metadata).toMatchObject({ provider: "virtualbox", architecture: "arm64" });
  });

  it("reads a member name longer than 100 characters (GNU long names)", async () => {
    const dir = join(tmp.path, "long");
    const deep = join(dir, "d".repeat(60), "e".repeat(60));
    execFileSync("mkdir", ["-p", deep]);
    writeFileSync(join(deep, "f".repeat(80)), "x");
    writeFileSync(join(dir, "metadata.json"), JSON.stringify({ provider: "libvirt" }));
    const box = join(tmp.path, "long.box");
    execFileSync("tar", ["-cf", box, "-C", dir, "d".repeat(60), "metadata.json"]);
    expect((await inspectBox(box)).metadata.provider).toBe("libvirt");
  });

  it("checks the claimed provider against metadata.json", async () => {
    const box = makeBox(tmp.path, "vb", { provider: "virtualbox" });
    expect((await inspectBox(box, "virtualbox")).metadata.provider).toBe("virtualbox");
    const err = await rejection(inspectBox(box, "libvirt"));
    expect(err.message).toMatch(/says provider "virtualbox", but it was published as "libvirt"/);
  });

  it.each([
    ["not an archive", () => writeAndReturn("text.box", "hello, I am not a box\n".repeat(100)), /not a tar archive/],
    ["an empty file", () => writeAndReturn("empty.box", ""), /empty/],
    ["no metadata.json", () => makeBox(tmp.path, "nometa", { metadata: null }), /no metadata\.json/],
    ["metadata without provider", () => makeBox(tmp.path, "noprov", { metadata: { format: "qcow2" } }), /no "provider"/],
    ["metadata that is not JSON", () => makeBox(tmp.path, "badjson", { metadata: "{provider: libvirt" }), /not valid JSON/],
    ["a gzip of something else", () => gzipOf("gz.box", "plain text, not a tar\n".repeat(50)), /not a tar archive/],
  ])("rejects %s with a clear error", async (_what, make, message) => {
    const file = make();
    const err = await rejection(inspectBox(file));
    expect(err.message).toContain(file);
    expect(err.message).toMatch(message);
  });

  it("rejects a truncated box (an interrupted download or upload)", async () => {
    const box = makeBox(tmp.path, "trunc", { imageBytes: 1 << 20 });
    truncateSync(box, Math.floor(statSync(box).size / 2));
    await rejection(inspectBox(box));
    const plain = makeBox(tmp.path, "trunc-plain", { gzip: false, imageBytes: 1 << 20 });
    truncateSync(plain, 600_000);
    expect((await rejection(inspectBox(plain))).message).toMatch(/truncated/);
  });

  it("rejects a box whose tar header was altered", async () => {
    const box = makeBox(tmp.path, "corrupt", { gzip: false });
    const bytes = readFileSync(box);
    bytes[0] = bytes[0]! ^ 0xff; // first header's name: checksum no longer matches
    writeFileSync(box, bytes);
    expect((await rejection(inspectBox(box))).message).toMatch(/not a tar archive/);
  });
});

function writeAndReturn(name: string, content: string): string {
  const file = join(tmp.path, name);
  writeFileSync(file, content);
  return file;
}

function gzipOf(name: string, content: string): string {
  const file = join(tmp.path, name);
  writeFileSync(file, execFileSync("gzip", ["-c"], { input: content }));
  return file;
}
