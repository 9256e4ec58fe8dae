import { isMap, isScalar, isSeq, LineCounter, type Document, type Node, type Pair } from "yaml";

/** A 1-based line and column in the config file. */
export interface Position {
  line: number;
  col: number;
}

/**
 * Finds where a config path (as zod reports it) lives in the YAML document, so an error can
 * point at `homelab.yaml:LINE:COL`. A path that does not exist (a missing field) resolves to the
 * deepest parent that does; `key: true` points at the key of the last segment (unknown keys).
 */
export class SourceMap {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  locate(path: readonly PropertyKey[], opts: { key?: string } = {}): Position {
    let node: unknown = this.doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (const segment of path) {
      const next = child(node, segment);
      if (next === undefined) break;
      node = next.value;
      offset = rangeStart(next.value) ?? rangeStart(next.key) ?? offset;
    }
    if (opts.key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === opts.key);
      offset = rangeStart(pair?.key) ?? offset;
    }
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }
}

function child(node: unknown, segment: PropertyKey): { key?: unknown; value: unknown } | undefined {
  if (isMap(node)) {
    const pair = (node.items as Pair[]).find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
    return pair === undefined ? undefined : { key: pair.key, value: pair.value ?? pair.key };
  }
  if (isSeq(node) && typeof segment === "number") {
    const item = node.items[segment];
    return item === undefined ? undefined : { value: item };
  }
  return undefined;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
