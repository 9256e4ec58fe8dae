#!/usr/bin/env node
// bench/build: homelab's overhead over Packer. The same bundle is built once by
// `homelab build --force` and once by plain `packer build` (same VM settings, same run,
// interleaved so machine noise hits both), and the ratio is printed (target <= 1.03), then the
// time of a cache hit. Uses the offline Debian base image (no k8s: base + sysprep), under TCG
// here or KVM where it works. Takes a few minutes.
// Run: npm run build && node bench/build.mjs
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../bin/homelab.js", import.meta.url));
const makeImage = fileURLToPath(new URL("../test/fixtures/debian-base/make-image.sh", import.meta.url));
const env = { ...process.env, CHECKPOINT_DISABLE: "1", HOMELAB_NO_VERSION_CHECK: "1" };

const kv = Object.fromEntries(
  execFileSync("bash", [makeImage], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim()
    .split("\n")
    .map((l) => l.split("=", 2)),
);
const dir = mkdtempSync(join(tmpdir(), "homelab-bench-build-"));
writeFileSync(
  join(dir, "homelab.yaml"),
  `org: bench\ndebian: {}\nbase:\n  image: ${kv.image}\n  checksum: sha256:${kv.sha256}\nproviders: [libvirt]\n`,
);

const time = (fn) => {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
};
const homelab = (...args) => execFileSync(process.execPath, [bin, "build", "--compression-level", "1", ...args], { cwd: dir, env, stdio: "pipe" });

// A first homelab build renders the bundle and tells us the accelerator it chose.
const warm = time(() => homelab());
const buildDir = join(dir, ".homelab", "builds", readdirSync(join(dir, ".homelab", "builds"))[0]);
const record = JSON.parse(readFileSync(join(buildDir, "build.json"), "utf8"));
const accel = record.accelerator;
const bundle = join(dir, "plain-bundle");
cpSync(join(buildDir, "bundle"), bundle, { recursive: true });
const packer = () =>
  execFileSync(
    "packer",
    ["build", "-force", "-var", `accelerator=${accel}`, "-var", `cpu_model=${accel === "tcg" ? "max" : "host"}`,
      "-var", `output_dir=${join(dir, "plain-out")}`, "-var", `vm_output_dir=${join(dir, "plain-vm")}`,
      "-var", "box_compression_level=1", "."],
    { cwd: bundle, env: { ...env, PACKER_CACHE_DIR: join(dir, ".homelab", "packer_cache") }, stdio: "pipe" },
  );

const plain = [];
const ours = [];
for (let i = 0; i < 2; i++) {
  plain.push(time(packer));
  rmSync(join(dir, "plain-out"), { recursive: true, force: true });
  ours.push(time(() => homelab("--force")));
}
const cacheHit = time(() => homelab());
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`accelerator: ${accel}; first homelab build (cold): ${warm.toFixed(1)} s`);
console.log(`plain packer build:   ${plain.map((t) => t.toFixed(1)).join(" s, ")} s (mean ${mean(plain).toFixed(1)} s)`);
console.log(`homelab build --force: ${ours.map((t) => t.toFixed(1)).join(" s, ")} s (mean ${mean(ours).toFixed(1)} s)`);
console.log(`overhead ratio homelab/packer: ${(mean(ours) / mean(plain)).toFixed(3)} (target <= 1.03)`);
console.log(`cache hit: ${cacheHit.toFixed(2)} s (target < 1 s)`);
rmSync(dir, { recursive: true, force: true });
