/** `1536` → `1.5 KiB`, `331_350_016` → `316.0 MiB`: binary units, as `ls -lh` and qemu-img show them. */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** `90_000` → `1 minute`, `3 * 86_400_000` → `3 days`: how long ago, roughly, in words. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const [n, unit] =
    s < 60 ? [s, "second"] : s < 3600 ? [Math.floor(s / 60), "minute"] : s < 86_400 ? [Math.floor(s / 3600), "hour"] : [Math.floor(s / 86_400), "day"];
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}
