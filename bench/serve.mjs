// bench/serve: download throughput of a 1 GiB box over loopback from `homelab box serve` vs
// Python's http.server serving the same file, in the same run (curl is the client for both).
//   npm run build && node bench/serve.mjs [--mib N] [--runs N]
import { execFileSync, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { CLI, makeBox, median, tempDir } from "./common.mjs";

const argv = process.argv.slice(2);
const mib = Number(argv[argv.indexOf("--mib") + 1] || 1024) || 1024;
const runs = Number(argv[argv.indexOf("--runs") + 1] || 3) || 3;
const dir = tempDir();
const reg = join(dir, "reg");
console.log(`making a ${mib} MiB box in ${dir} ...`);
execFileSync(process.execPath, [CLI, "box", "publish", makeBox(dir, "big", mib), "--name", "bench/box", "--version", "1.0.0", "--registry", reg]);

const children = [];
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));
function start(cmd, args, cwd, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    const onData = (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", () => reject(new Error(`${cmd} exited: ${out}`)));
  });
}
const ourPort = await start(process.execPath, [CLI, "box", "serve", "--root", reg, "--port", "0", "--quiet"], dir, /127\.0\.0\.1:(\d+)/);
// Box files are named by their checksum: take the one the publish wrote.
const [boxFile] = readdirSync(join(reg, "bench/box/1.0.0"));
const pyPort = await start("python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"], join(reg, "bench/box/1.0.0"), /port (\d+)/);

function curl(url) {
  const out = execFileSync("curl", ["-sS", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}", url], { encoding: "utf8" });
  const [speed, size] = out.trim().split(" ").map(Number);
  if (size !== mib * 1048576 + 3072 && size < mib * 1048576) throw new Error(`short download from ${url}: ${size}`);
  return speed / 1048576;
}
const ours = [];
const py = [];
for (let i = 0; i < runs; i++) {
  py.push(curl(`http://127.0.0.1:${pyPort}/${boxFile}`));
  ours.push(curl(`http://127.0.0.1:${ourPort}/bench/box/1.0.0/libvirt/amd64`));
}
const o = median(ours);
const p = median(py);
console.log(`download of a ${mib} MiB box over loopback (curl, ${runs} runs, medians)`);
console.log(`  python3 -m http.server : ${p.toFixed(0)} MiB/s`);
console.log(`  homelab box serve      : ${o.toFixed(0)} MiB/s  ratio ${(o / p).toFixed(2)}x of the baseline`);
process.exit(0);
