// Is loading a config linear in its size? Run after `npm run build`:
//   node bench/config-load.mjs
// Loads configs of 1k, 10k and 40k top-level keys (every key unknown: the worst case for the
// error path, one located problem per key) and, as the baseline, parses the same text with bare
// `yaml.parse` (no duplicate-key check) in the same process. A flat ratio means the loader's
// own work grows like the parser's: linear. Before the fix the ratio grew with the size
// (20k keys 7.6 s, 40k keys 52 s: duplicate-key check and one source lookup per problem).
import { parse } from "yaml";
import { parseConfig } from "../dist/config/load.js";

const text = (n) => Array.from({ length: n }, (_, i) => `k${i}: ${i}`).join("\n") + "\n";
const best = (runs, fn) => {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - start) / 1e6);
  }
  return min;
};
const load = (t) => {
  try {
    parseConfig(t);
  } catch (err) {
    if (err?.exitCode !== 2) throw err;
  }
};

// Warm both paths up so the first size does not pay for the JIT.
for (let i = 0; i < 3; i++) {
  parse(text(2000), { uniqueKeys: false });
  load(text(2000));
}
const rows = [];
for (const n of [1000, 10_000, 40_000]) {
  const t = text(n);
  const runs = n >= 40_000 ? 3 : 5;
  const baseline = best(runs, () => parse(t, { uniqueKeys: false }));
  const ours = best(runs, () => load(t));
  rows.push({ n, baseline, ours, ratio: ours / baseline });
}
for (const r of rows) {
  console.log(
    `${String(r.n).padStart(6)} keys: yaml.parse ${r.baseline.toFixed(0).padStart(6)} ms, loadConfig ${r.ours.toFixed(0).padStart(6)} ms = ${r.ratio.toFixed(2)}x baseline`,
  );
}
const spread = Math.max(...rows.map((r) => r.ratio)) / Math.min(...rows.map((r) => r.ratio));
console.log(`ratio spread across sizes: ${spread.toFixed(2)} (1.00 = perfectly linear relative to the parser)`);
