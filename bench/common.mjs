// Shared helpers for the box benchmarks (run by hand: `npm run build && node bench/<name>.mjs`).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const CLI = join(REPO, "bin/homelab.js");

export function tempDir() {
  const path = mkdtempSync(join(tmpdir(), "homelab-bench-"));
  const cleanup = () => rmSync(path, { recursive: true, force: true });
  process.on("exit", cleanup);
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
  return path;
}

/** A box with a `mib` MiB random disk image, metadata.json last (Packer's order); tar or tar.gz. */
export function makeBox(dir, name, mib, gzip = false) {
  const src = join(dir, `${name}.d`);
  mkdirSync(src);
  writeFileSync(join(src, "Vagrantfile"), 'Vagrant.configure("2") do |c|\nend\n');
  execFileSync("sh", ["-c", `head -c ${mib}M /dev/urandom > "$1"`, "sh", join(src, "box.img")]);
  writeFileSync(join(src, "metadata.json"), JSON.stringify({ provider: "libvirt", format: "qcow2", virtual_size: 1 }));
  const out = join(dir, `${name}.box`);
  execFileSync("sh", ["-c", gzip ? `tar -cf - -C "$1" Vagrantfile box.img metadata.json | gzip -1 > "$2"` : `tar -cf "$2" -C "$1" Vagrantfile box.img metadata.json`, "sh", src, out]);
  rmSync(src, { recursive: true });
  return out;
}

/** Runs a command under /usr/bin/time -v; returns wall seconds and peak RSS (MiB) of the command. */
export function timed(cmd, args, env = process.env) {
  return new Promise((res, rej) => {
    const started = process.hrtime.bigint();
    const child = spawn("/usr/bin/time", ["-v", cmd, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.stdout.resume();
    child.on("error", rej);
    child.on("close", (code) => {
      const secs = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return rej(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err}`));
      const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(err)?.[1] ?? NaN) / 1024;
      res({ secs, rssMiB: rss });
    });
  });
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
