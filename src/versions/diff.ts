/**
 * A unified diff of two small texts (config files: the O(n·m) LCS table is a few thousand
 * cells), in the format `diff -u` prints, so users can read it and `patch` can apply it.
 */
export function unifiedDiff(before: string, after: string, fromName: string, toName: string, context = 3): string {
  if (before === after) return "";
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffLines(a, b);
  const hunks: string[] = [];
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.kind === " ") {
      i++;
      continue;
    }
    // Grow a hunk around this change, merging changes closer than 2·context lines apart.
    let start = Math.max(0, i - context);
    let end = i;
    while (end < ops.length) {
      let next = end;
      while (next < ops.length && ops[next]!.kind !== " ") next++;
      let gap = next;
      while (gap < ops.length && ops[gap]!.kind === " ") gap++;
      if (gap < ops.length && gap - next <= 2 * context) end = gap;
      else {
        end = Math.min(ops.length, next + context);
        break;
      }
    }
    const slice = ops.slice(start, end);
    const oldStart = slice[0]!.oldLine;
    const newStart = slice[0]!.newLine;
    const oldCount = slice.filter((o) => o.kind !== "+").length;
    const newCount = slice.filter((o) => o.kind !== "-").length;
    hunks.push(`@@ -${range(oldStart, oldCount)} +${range(newStart, newCount)} @@`);
    for (const o of slice) hunks.push(`${o.kind}${o.text}${o.noNewline ? "\n\\ No newline at end of file" : ""}`);
    i = end;
    start = end;
  }
  return `--- ${fromName}\n+++ ${toName}\n${hunks.join("\n")}\n`;
}

interface Op {
  kind: " " | "-" | "+";
  text: string;
  /** 1-based line numbers where this op sits in the old and new text. */
  oldLine: number;
  newLine: number;
  noNewline: boolean;
}

interface Line {
  text: string;
  noNewline: boolean;
}

function splitLines(s: string): Line[] {
  if (s === "") return [];
  const parts = s.split("\n");
  const noNewline = parts.at(-1) !== "";
  if (!noNewline) parts.pop();
  return parts.map((text, i) => ({ text, noNewline: noNewline && i === parts.length - 1 }));
}

function diffLines(a: Line[], b: Line[]): Op[] {
  const same = (x: Line, y: Line) => x.text === y.text && x.noNewline === y.noNewline;
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = same(a[i]!, b[j]!) ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && same(a[i]!, b[j]!)) {
      ops.push({ kind: " ", text: a[i]!.text, oldLine: i + 1, newLine: j + 1, noNewline: a[i]!.noNewline });
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      // Removals before additions, as diff -u prints them.
      ops.push({ kind: "-", text: a[i]!.text, oldLine: i + 1, newLine: j + 1, noNewline: a[i]!.noNewline });
      i++;
    } else {
      ops.push({ kind: "+", text: b[j]!.text, oldLine: i + 1, newLine: j + 1, noNewline: b[j]!.noNewline });
      j++;
    }
  }
  return ops;
}

function range(start: number, count: number): string {
  // diff -u numbers an empty range by the line before it.
  if (count === 0) return `${start - 1},0`;
  return count === 1 ? `${start}` : `${start},${count}`;
}
