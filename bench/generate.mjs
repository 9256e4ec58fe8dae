#!/usr/bin/env node
// bench/generate: wall time of `homelab generate` on the default config next to `packer validate`
// of the same bundle, measured in the same run (interleaved, medians), printed as a ratio.
// Target: ratio < 1. Also CLI start-up (`homelab --version`), target < 300 ms.
// Run: npm run build && node bench/generate.mjs [rounds]
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../bin/homelab.js", import.meta.url));
const rounds = Number(process.argv[2] ?? 15);
const dir = mkdtempSync(join(tmpdir(), "homelab-bench-"));
const env = { ...process.env, CHECKPOINT_DISABLE: "1", HOMELAB_NO_VERSION_CHECK: "1" };

const time = (fn) => {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const run = (cmd, args, cwd = dir) => execFileSync(cmd, args, { cwd, env, stdio: "pipe" });
run(process.execPath, [bin, "generate"]); // warm the page cache
const samples = { generate: [], validate: [], startup: [] };
for (let i = 0; i < rounds; i++) {
  samples.generate.push(time(() => run(process.execPath, [bin, "generate"])));
  samples.validate.push(time(() => run("packer", ["validate", "."], join(dir, "homelab-bundle"))));
  samples.startup.push(time(() => run(process.execPath, [bin, "--version"])));
}
const g = median(samples.generate);
const v = median(samples.validate);
const s = median(samples.startup);
console.log(`rounds: ${rounds} (medians)`);
console.log(`homelab generate:  ${g.toFixed(1)} ms`);
console.log(`packer validate:   ${v.toFixed(1)} ms`);
console.log(`ratio generate/validate: ${(g / v).toFixed(2)} (target < 1)`);
console.log(`CLI start-up (--version): ${s.toFixed(1)} ms (target < 300 ms)`);
