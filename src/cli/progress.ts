import type { Progress } from "../box/store.js";

/**
 * Progress for large files on stderr: a rewritten line on a terminal, nothing otherwise (logs
 * and CI output stay clean; the final "published" line says what happened).
 */
export function progressPrinter(label: string, stream: NodeJS.WriteStream = process.stderr): { update: (p: Progress) => void; done: () => void } {
  if (!stream.isTTY) return { update: () => {}, done: () => {} };
  const started = Date.now();
  let shown = false;
  return {
    update: (p) => {
      const mib = p.bytes / (1 << 20);
      const rate = mib / Math.max((Date.now() - started) / 1000, 0.001);
      const pct = p.total ? ` ${Math.floor((p.bytes / p.total) * 100)}%` : "";
      stream.write(`\r${label}:${pct} ${mib.toFixed(0)} MiB (${rate.toFixed(0)} MiB/s)\x1b[K`);
      shown = true;
    },
    done: () => {
      if (shown) stream.write("\n");
    },
  };
}
