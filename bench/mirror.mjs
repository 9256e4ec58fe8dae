// bench/mirror: `homelab box mirror` of N boxes (download, checksum, publish into a registry
// directory, --jobs parallel) against a plain sequential download of the same files with curl
// (no checksum, no publish), both from the same source on loopback in the same run. The source
// is a catalog host whose box URLs redirect (302) to a storage host, like the closing HCP host.
// Two links are measured: loopback as it is, and a per-connection rate limit (--rate MiB/s,
// default 40) standing for a remote host, where parallel downloads are what a mirror gains.
//   npm run build && node bench/mirror.mjs [--boxes N] [--mib N] [--jobs N] [--rate MiB/s] [--runs N]
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { CLI, makeBox, median, tempDir, timed } from "./common.mjs";

const argv = process.argv.slice(2);
const arg = (name, def) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const boxes = arg("--boxes", 8);
const mib = arg("--mib", 64);
const jobs = arg("--jobs", 4);
const rate = arg("--rate", 40);
const runs = arg("--runs", 3);
const dir = tempDir();

console.log(`making ${boxes} boxes of ${mib} MiB in ${dir} ...`);
const files = [];
for (let i = 0; i < boxes; i++) {
  const path = makeBox(dir, `b${i}`, mib);
  files.push({ name: `b${i}`, path, size: statSync(path).size, sha256: createHash("sha256").update(readFileSync(path)).digest("hex") });
}
const totalMiB = files.reduce((n, f) => n + f.size, 0) / (1 << 20);

let limit = 0; // bytes per second per connection, 0: none
const storage = createServer((req, res) => {
  const f = files.find((x) => req.url === `/objects/${x.name}`);
  if (!f) return void res.writeHead(404).end();
  res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": f.size });
  const stream = createReadStream(f.path, { highWaterMark: 1 << 20 });
  if (limit === 0) return void stream.pipe(res);
  const started = Date.now();
  let sent = 0;
  stream.on("data", (chunk) => {
    sent += chunk.length;
    if (!res.write(chunk)) stream.pause(), res.once("drain", () => pace());
    else pace();
    function pace() {
      const ahead = sent / limit - (Date.now() - started) / 1000;
      if (ahead > 0) {
        stream.pause();
        setTimeout(() => stream.resume(), ahead * 1000);
      } else stream.resume();
    }
  });
  stream.on("end", () => res.end());
});
const api = createServer((req, res) => {
  const m = /^\/bench\/(b\d+)(?:\.json)?$/.exec(req.url ?? "");
  const dl = /^\/dl\/(b\d+)\.box$/.exec(req.url ?? "");
  if (dl) return void res.writeHead(302, { Location: `http://127.0.0.1:${storage.address().port}/objects/${dl[1]}` }).end();
  const f = m && files.find((x) => x.name === m[1]);
  if (!f) return void res.writeHead(404).end();
  const catalog = { name: `bench/${f.name}`, versions: [{ version: "1.0.0", providers: [{ name: "libvirt", url: `/dl/${f.name}.box`, checksum_type: "sha256", checksum: f.sha256, architecture: "amd64", default_architecture: true }] }] };
  res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(catalog));
});
await new Promise((r) => storage.listen(0, "127.0.0.1", r));
await new Promise((r) => api.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${api.address().port}`;
execFileSync("sh", ["-c", `cat "$@" > /dev/null`, "sh", ...files.map((f) => f.path)]); // same warm page cache for both

async function measure(label) {
  const seq = [];
  const ours = [];
  for (let r = 0; r < runs; r++) {
    const out = join(dir, "curl");
    const t0 = process.hrtime.bigint();
    for (const f of files) await timed("curl", ["-sSfL", "-o", out, `${base}/dl/${f.name}.box`]);
    seq.push(Number(process.hrtime.bigint() - t0) / 1e9);
    rmSync(out, { force: true });

    const reg = join(dir, "reg");
    const work = join(dir, "work");
    const m = await timed(process.execPath, [CLI, "box", "mirror", ...files.map((f) => `${base}/bench/${f.name}.json`), "--to", reg, "--work-dir", work, "--jobs", String(jobs)]);
    ours.push(m);
    rmSync(reg, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
  const s = median(seq);
  const o = median(ours.map((x) => x.secs));
  console.log(`${label}: ${boxes} boxes, ${totalMiB.toFixed(0)} MiB, ${runs} runs, medians`);
  console.log(`  baseline curl, one file after another : ${s.toFixed(2)} s (${(totalMiB / s).toFixed(0)} MiB/s)`);
  console.log(`  homelab box mirror --jobs ${jobs}          : ${o.toFixed(2)} s (${(totalMiB / o).toFixed(0)} MiB/s)  throughput ratio ${(s / o).toFixed(2)}x  (checksum + publish included; peak RSS ${Math.max(...ours.map((x) => x.rssMiB)).toFixed(0)} MiB)`);
}

limit = 0;
await measure("loopback, no rate limit");
if (rate > 0) {
  limit = rate * (1 << 20);
  await measure(`loopback, ${rate} MiB/s per connection (a remote host)`);
}
storage.close();
api.close();
