// bench/mirror: `homelab box mirror` of N boxes (download, checksum, publish into a registry
// directory, --jobs parallel) against a plain sequential download of the same files with curl
// (no checksum, no publish), and with each file fsynced (sync FILE, as a registry makes what it
// publishes durable), all from the same source on loopback in the same run. The source
// is a catalog host whose box URLs redirect (302) to a storage host, like the closing HCP host.
// Two links are measured: loopback as it is, and a per-connection rate limit (--rate MiB/s,
// default 40) standing for a remote host, where parallel downloads are what a mirror gains.
//   npm run build && node bench/mirror.mjs [--boxes N] [--mib N] [--jobs N] [--rate MiB/s] [--runs N]
import { execFileSync, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { CLI, makeBox, median, tempDir } from "./common.mjs";

/** Wall seconds, CPU seconds (user + system) and peak RSS of a command, from /usr/bin/time -v. */
function timed(cmd, args) {
  return new Promise((res, rej) => {
    const started = process.hrtime.bigint();
    const child = spawn("/usr/bin/time", ["-v", cmd, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("error", rej);
    child.on("close", (code) => {
      const secs = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return rej(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err}`));
      const num = (re) => Number(re.exec(err)?.[1] ?? NaN);
      res({ secs, cpu: num(/User time \(seconds\): ([\d.]+)/) + num(/System time \(seconds\): ([\d.]+)/), rssMiB: num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024 });
    });
  });
}

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

async function mirrorRun(j) {
  const reg = join(dir, "reg");
  const work = join(dir, "work");
  const m = await timed(process.execPath, [CLI, "box", "mirror", ...files.map((f) => `${base}/bench/${f.name}.json`), "--to", reg, "--work-dir", work, "--jobs", String(j)]);
  rmSync(reg, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  return m;
}

async function measure(label) {
  const seq = [];
  const durable = [];
  const ours = [];
  const one = [];
  for (let r = 0; r < runs; r++) {
    const out = join(dir, "curl");
    const t0 = process.hrtime.bigint();
    let cpu = 0;
    for (const f of files) cpu += (await timed("curl", ["-sSfL", "-o", out, `${base}/dl/${f.name}.box`])).cpu;
    seq.push({ secs: Number(process.hrtime.bigint() - t0) / 1e9, cpu });
    // The same, each file made durable (a registry fsyncs what it publishes; bench/publish does the same).
    const t1 = process.hrtime.bigint();
    for (const f of files) {
      const o = `${out}-${f.name}`;
      await timed("curl", ["-sSfL", "-o", o, `${base}/dl/${f.name}.box`]);
      await timed("sync", [o]);
    }
    durable.push({ secs: Number(process.hrtime.bigint() - t1) / 1e9 });
    for (const f of files) rmSync(`${out}-${f.name}`, { force: true });
    rmSync(out, { force: true });
    ours.push(await mirrorRun(jobs));
    if (jobs !== 1) one.push(await mirrorRun(1));
  }
  const s = median(seq.map((x) => x.secs));
  const line = (name, xs) => {
    const o = median(xs.map((x) => x.secs));
    const cpu = median(xs.map((x) => x.cpu));
    return `  ${name.padEnd(38)}: ${o.toFixed(2)} s (${(totalMiB / o).toFixed(0)} MiB/s, ${cpu.toFixed(1)} CPU s)  throughput ratio ${(s / o).toFixed(2)}x`;
  };
  console.log(`${label}: ${boxes} boxes, ${totalMiB.toFixed(0)} MiB, ${runs} run(s), medians; load average ${loadavg()[0].toFixed(1)} on this machine`);
  console.log(`  ${"baseline curl, one file after another".padEnd(38)}: ${s.toFixed(2)} s (${(totalMiB / s).toFixed(0)} MiB/s, ${median(seq.map((x) => x.cpu)).toFixed(1)} CPU s)`);
  console.log(`${line(`homelab box mirror --jobs ${jobs}`, ours)}  (checksum + publish included; peak RSS ${Math.max(...ours.map((x) => x.rssMiB)).toFixed(0)} MiB)`);
  if (one.length > 0) console.log(line("homelab box mirror --jobs 1", one));
  const d = median(durable.map((x) => x.secs));
  const o = median(ours.map((x) => x.secs));
  console.log(`  ${"baseline curl + sync (durable)".padEnd(38)}: ${d.toFixed(2)} s (${(totalMiB / d).toFixed(0)} MiB/s)  mirror --jobs ${jobs} against it: ${(d / o).toFixed(2)}x`);
}

limit = 0;
await measure("loopback, no rate limit");
if (rate > 0) {
  limit = rate * (1 << 20);
  await measure(`loopback, ${rate} MiB/s per connection (a remote host)`);
}
storage.close();
api.close();
