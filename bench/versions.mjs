// How much does the drift warning cost `homelab generate`? Run after `npm run build`:
//   node bench/versions.mjs
// Serves the recorded upstream fixtures on 127.0.0.1 and times driftWarnings() with a cold
// cache (three sources over HTTP) and a warm cache (no network), as ratios against loading the
// config itself, measured in the same run.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../dist/config/load.js";
import { starterConfig } from "../dist/config/starter.js";
import { driftWarnings } from "../dist/versions/warnings.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "test", "fixtures", "versions");
const routes = new Map([
  ["/alpine/v3.24/releases/x86_64/latest-releases.yaml", "alpine/v3.24/releases/x86_64/latest-releases.yaml"],
  ["/alpine/latest-stable/releases/x86_64/latest-releases.yaml", "alpine/v3.24/releases/x86_64/latest-releases.yaml"],
  ["/k8s/release/stable.txt", "k8s/release/stable.txt"],
  ["/k8s/release/stable-1.35.txt", "k8s/release/stable-1.35.txt"],
]);
const constants = readFileSync(join(fixtures, "k8s/constants.go.tmpl"), "utf8").replace("{{PAUSE}}", "3.10.1");
const server = createServer((req, res) => {
  const file = routes.get(req.url ?? "");
  const body = req.url?.endsWith("/constants.go") ? constants : file ? readFileSync(join(fixtures, file), "utf8") : undefined;
  res.writeHead(body === undefined ? 404 : 200).end(body ?? "");
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}`;
const urls = { alpineMirror: `${base}/alpine`, kubernetesReleaseUrl: `${base}/k8s/release`, kubernetesSourceUrl: `${base}/k8s/source`, env: {} };

const config = parseConfig(starterConfig());
const time = async (n, fn) => {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  return Number(process.hrtime.bigint() - start) / 1e6 / n;
};

const N = 50;
const baseline = await time(N, () => parseConfig(starterConfig()));
const dirs = [];
const cold = await time(N, () => {
  const cacheDir = mkdtempSync(join(tmpdir(), "homelab-bench-"));
  dirs.push(cacheDir);
  return driftWarnings(config, { ...urls, cacheDir });
});
const warmDir = dirs[0];
const warm = await time(N, () => driftWarnings(config, { ...urls, cacheDir: warmDir }));
for (const d of dirs) rmSync(d, { recursive: true, force: true });
server.close();

console.log(`loading the config (baseline): ${baseline.toFixed(3)} ms`);
console.log(`driftWarnings, cold cache (local HTTP): ${cold.toFixed(3)} ms = ${(cold / baseline).toFixed(1)}x baseline`);
console.log(`driftWarnings, warm cache (no network): ${warm.toFixed(3)} ms = ${(warm / baseline).toFixed(1)}x baseline, ${(cold / warm).toFixed(1)}x faster than cold`);
