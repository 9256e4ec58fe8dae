import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const CLI = join(REPO, "bin/homelab.js");

export function tempDir(prefix = "homelab-box-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface BoxSpec {
  provider?: string;
  /** Replaces metadata.json entirely (string: written as is); null: no metadata.json. */
  metadata?: Record<string, unknown> | string | null;
  gzip?: boolean;
  /** Bytes of box.img (random, so gzip cannot shrink it); default 4 KiB. */
  imageBytes?: number;
  /** A real qcow2 image made by qemu-img instead of random bytes. */
  qcow2?: boolean;
  /** Written into a file `marker` inside the box, to tell boxes apart after `vagrant box add`. */
  marker?: string;
}

/**
 * Builds a box with the real `tar` in Packer's order (Vagrantfile, box.img, metadata.json: the
 * metadata comes last, after the disk image, as Packer's vagrant post-processor writes it).
 */
export function makeBox(dir: string, name: string, spec: BoxSpec = {}): string {
  const src = join(dir, `${name}.d`);
  mkdirSync(src, { recursive: true });
  const files = ["Vagrantfile", "box.img"];
  writeFileSync(join(src, "Vagrantfile"), 'Vagrant.configure("2") do |config|\nend\n');
  if (spec.qcow2) execFileSync("qemu-img", ["create", "-q", "-f", "qcow2", join(src, "box.img"), "1M"]);
  else writeFileSync(join(src, "box.img"), randomBytes(spec.imageBytes ?? 4096));
  if (spec.marker !== undefined) {
    writeFileSync(join(src, "marker"), spec.marker);
    files.push("marker");
  }
  if (spec.metadata !== null) {
    const meta = spec.metadata ?? { provider: spec.provider ?? "libvirt", format: "qcow2", virtual_size: 1 };
    writeFileSync(join(src, "metadata.json"), typeof meta === "string" ? meta : JSON.stringify(meta));
    files.push("metadata.json");
  }
  const out = join(dir, `${name}.box`);
  execFileSync("tar", [spec.gzip === false ? "-cf" : "-czf", out, "-C", src, ...files]);
  rmSync(src, { recursive: true });
  return out;
}

export { runCli, type CliResult as RunResult } from "../support/cli.js";

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function http(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<HttpResult> {
  return new Promise((res, rej) => {
    const req = request(url, { method: opts.method ?? "GET", headers: opts.headers ?? {} }, (r) => {
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c));
      r.on("end", () => res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
      r.on("error", rej);
    });
    req.on("error", rej);
    req.end(opts.body);
  });
}

/**
 * Sends bytes exactly as given (no client-side normalisation of the path: `..`, `%2e`, `\`,
 * NUL, absolute-form targets reach the server untouched) and returns the status code.
 */
export function rawRequest(port: number, head: string): Promise<{ status: number; text: string }> {
  return new Promise((res, rej) => {
    // write, not end: a half-closed client makes Node drop the connection before an async answer.
    const sock = connect(port, "127.0.0.1", () => sock.write(Buffer.from(head, "latin1")));
    let text = "";
    sock.on("data", (d: Buffer) => (text += d.toString("latin1")));
    sock.on("error", rej);
    sock.on("close", () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      res({ status: m ? Number(m[1]) : 0, text });
    });
  });
}

export const WRITE_TOKEN = "write-token-0123456789abcdef";
export const READ_TOKEN = "read-token-0123456789abcdef00";
