// bench/publish: `homelab box publish` of a 1 GiB box vs `sha256sum` + `cp` of the same file,
// measured in the same run (target <= 1.2x), and peak RSS of publish (target < 150 MB,
// independent of box size: compared with a 64 MiB box). Temp files are removed at exit.
//   npm run build && node bench/publish.mjs [--gzip] [--mib N] [--runs N]
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { CLI, makeBox, median, tempDir, timed } from "./common.mjs";

const argv = process.argv.slice(2);
const gzip = argv.includes("--gzip");
const mib = Number(argv[argv.indexOf("--mib") + 1] || 1024) || 1024;
const runs = Number(argv[argv.indexOf("--runs") + 1] || 3) || 3;
const dir = tempDir();

console.log(`making a ${mib} MiB ${gzip ? "tar.gz" : "tar"} box in ${dir} ...`);
const big = makeBox(dir, "big", mib, gzip);
const small = makeBox(dir, "small", 64, gzip);
execFileSync("cat", [big], { stdio: ["ignore", "ignore", "inherit"] }); // same (warm) page cache for both sides

const base = [];
const ours = [];
for (let i = 0; i < runs; i++) {
  const copy = join(dir, "copy.box");
  const t0 = process.hrtime.bigint();
  execFileSync("sha256sum", [big], { stdio: "ignore" });
  execFileSync("cp", [big, copy]);
  execFileSync("sync", [copy]);
  base.push(Number(process.hrtime.bigint() - t0) / 1e9);
  rmSync(copy);

  const reg = join(dir, "reg");
  const r = await timed(process.execPath, [CLI, "box", "publish", big, "--name", "bench/box", "--version", "1.0.0", "--registry", reg]);
  ours.push(r);
  rmSync(reg, { recursive: true });
}
const smallRun = await timed(process.execPath, [CLI, "box", "publish", small, "--name", "bench/box", "--version", "1.0.0", "--registry", join(dir, "reg-small")]);

const b = median(base);
const o = median(ours.map((r) => r.secs));
const rss = Math.max(...ours.map((r) => r.rssMiB));
console.log(`box: ${mib} MiB ${gzip ? "tar.gz" : "tar"}, ${runs} runs, medians`);
console.log(`  baseline sha256sum + cp + sync : ${b.toFixed(2)} s (${(mib / b).toFixed(0)} MiB/s)`);
console.log(`  homelab box publish            : ${o.toFixed(2)} s (${(mib / o).toFixed(0)} MiB/s)  ratio ${(o / b).toFixed(2)}x  (target <= 1.2x)`);
console.log(`  peak RSS: ${rss.toFixed(0)} MiB for ${mib} MiB, ${smallRun.rssMiB.toFixed(0)} MiB for 64 MiB  (target < 150 MB)`);
