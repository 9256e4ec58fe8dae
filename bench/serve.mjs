// bench/serve: aggregate download throughput of a 1 GiB box over loopback from `homelab box serve`
// vs a single-worker nginx (sendfile on) serving the same file, in the same run, at 1, 8 and 32
// concurrent downloads. The client is curl, one process per download, the same for both
// servers, so neither the client nor its event loop is shared with the server measured.
//   npm run build && node bench/serve.mjs [--mib N] [--runs N] [--concurrency 1,8,32] [--registry DIR] [--cli PATH]
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, userInfo } from "node:os";
import { join } from "node:path";
import { CLI, makeBox, median, tempDir } from "./common.mjs";

const argv = process.argv.slice(2);
const arg = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const mib = Number(arg("--mib", 1024)) || 1024;
const runs = Number(arg("--runs", 3)) || 3;
const levels = String(arg("--concurrency", "1,8,32")).split(",").map(Number);
const dir = tempDir();
// --registry DIR keeps the registry (and its 1 GiB box) between runs: making it takes a minute.
const reg = arg("--registry", join(dir, "reg"));
if (!existsSync(join(reg, "bench/box/catalog.json"))) {
  console.log(`making a ${mib} MiB box in ${reg} ...`);
  execFileSync(process.execPath, [CLI, "box", "publish", makeBox(dir, "big", mib), "--name", "bench/box", "--version", "1.0.0", "--registry", reg]);
}

const children = [];
// SIGTERM, not SIGKILL: nginx's master then stops its worker (a killed master leaves an orphan).
process.on("exit", () => children.forEach((c) => c.kill("SIGTERM")));
function start(cmd, args, cwd, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    const onData = (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve({ port: Number(m[1]), pid: child.pid });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", () => reject(new Error(`${cmd} exited: ${out}`)));
  });
}
// --cli PATH serves with another checkout's bin/homelab.js (a before/after comparison in one run).
const { port: ourPort, pid: ourPid } = await start(process.execPath, [arg("--cli", CLI), "box", "serve", "--root", reg, "--port", "0", "--quiet"], dir, /127\.0\.0\.1:(\d+)/);
// Box files are named by their checksum: take the one the publish wrote.
const [boxFile] = readdirSync(join(reg, "bench/box/1.0.0"));
const { port: nginxPort, pid: nginxPid } = await startNginx(join(reg, "bench/box/1.0.0"));

/** nginx as a child with a config of its own: one worker, sendfile, loopback only, no logs. */
async function startNginx(docroot) {
  const conf = join(dir, "nginx");
  mkdirSync(join(conf, "tmp"), { recursive: true });
  // A free port: bind 0, read it, release it (nginx cannot report a port it picked itself).
  const { createServer } = await import("node:net");
  const port = await new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
  writeFileSync(
    join(conf, "nginx.conf"),
    // As root, nginx's worker would run as nobody, who cannot read the bench's private temp dir.
    `daemon off;
user ${userInfo().username};
worker_processes 1;
pid ${conf}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${conf}/tmp; proxy_temp_path ${conf}/tmp; fastcgi_temp_path ${conf}/tmp; uwsgi_temp_path ${conf}/tmp; scgi_temp_path ${conf}/tmp;
  server { listen 127.0.0.1:${port}; root ${docroot}; }
}
`,
  );
  const child = spawn("nginx", ["-p", conf, "-c", join(conf, "nginx.conf"), "-e", "stderr"], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync("curl", ["-sSf", "-o", "/dev/null", "-r", "0-0", `http://127.0.0.1:${port}/${boxFile}`], { stdio: "ignore" });
      return { port, pid: child.pid };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nginx did not start: ${err}`);
}

/**
 * CPU seconds (user + system) a server's processes used so far: on a shared machine the wall
 * time depends on the neighbours, the CPU spent per GiB served much less.
 */
function cpuSeconds(pid) {
  const pids = [pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)];
  let ticks = 0;
  for (const p of pids) {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${p}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100; // USER_HZ
}

/** `n` curl processes download the URL at once; returns the aggregate MiB/s (all bytes / wall time) and the server's CPU seconds per GiB. */
async function downloads(url, n, serverPid) {
  const cpu0 = cpuSeconds(serverPid);
  const started = process.hrtime.bigint();
  const mibs = await Promise.all(
    Array.from({ length: n }, () => new Promise((resolve, reject) => {
      const c = spawn("curl", ["-sS", "-o", "/dev/null", "-w", "%{size_download}", url], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      c.stdout.on("data", (d) => (out += d));
      c.on("close", (code) => {
        const size = Number(out.trim());
        if (code !== 0 || size < mib * 1048576) reject(new Error(`short download from ${url}: ${size} (curl ${code})`));
        else resolve(size);
      });
    })),
  ).then((sizes) => sizes.reduce((a, b) => a + b, 0) / 1048576);
  return { rate: mibs / (Number(process.hrtime.bigint() - started) / 1e9), cpuPerGiB: (cpuSeconds(serverPid) - cpu0) / (mibs / 1024) };
}

const ourUrl = `http://127.0.0.1:${ourPort}/bench/box/1.0.0/libvirt/amd64`;
const nginxUrl = `http://127.0.0.1:${nginxPort}/${boxFile}`;
const rows = [];
for (const n of levels) {
  const ours = [];
  const base = [];
  // Alternate, so a neighbour's load on this shared machine hits both alike.
  for (let i = 0; i < runs; i++) {
    base.push(await downloads(nginxUrl, n, nginxPid));
    ours.push(await downloads(ourUrl, n, ourPid));
  }
  const med = (xs, key) => median(xs.map((x) => x[key]));
  rows.push({ n, nginx: med(base, "rate"), ours: med(ours, "rate"), nginxCpu: med(base, "cpuPerGiB"), ourCpu: med(ours, "cpuPerGiB") });
}
console.log(`aggregate download throughput, ${mib} MiB box over loopback (curl per download, ${runs} runs, medians; load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} CPUs)`);
console.log("  concurrent   nginx (1 worker, sendfile)   homelab box serve   ratio   server CPU s/GiB: nginx, ours");
for (const r of rows) {
  console.log(`  ${String(r.n).padStart(10)}   ${`${r.nginx.toFixed(0)} MiB/s`.padStart(26)}   ${`${r.ours.toFixed(0)} MiB/s`.padStart(17)}   ${`${(r.ours / r.nginx).toFixed(2)}x`.padStart(5)}   ${r.nginxCpu.toFixed(2)}, ${r.ourCpu.toFixed(2)}`);
}
process.exit(0);
