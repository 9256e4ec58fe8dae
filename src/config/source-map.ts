import { isMap, isScalar, isSeq, LineCounter, type Document, type Node, type Pair, type YAMLMap } from "yaml";

/** A 1-based line and column in the config file. */
export interface Position {
  line: number;
  col: number;
}

/**
 * Finds where a config path (as zod reports it) lives in the YAML document, so an error can
 * point at `homelab.yaml:LINE:COL`. A path that does not exist (a missing field) resolves to the
 * deepest parent that does; `key: true` points at the key of the last segment (unknown keys).
 * Each mapping's keys are indexed once, so locating every problem of a file with thousands of
 * keys stays linear (a search per problem made 40k unknown keys take most of a minute).
 */
export class SourceMap {
  private readonly index = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  locate(path: readonly PropertyKey[], opts: { key?: string } = {}): Position {
    let node: unknown = this.doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (const segment of path) {
      const next = this.child(node, segment);
      if (next === undefined) break;
      node = next.value;
      offset = rangeStart(next.value) ?? rangeStart(next.key) ?? offset;
    }
    if (opts.key !== undefined && isMap(node)) {
      offset = rangeStart(this.pairs(node).get(opts.key)?.key) ?? offset;
    }
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  private child(node: unknown, segment: PropertyKey): { key?: unknown; value: unknown } | undefined {
    if (isMap(node)) {
      const pair = this.pairs(node).get(String(segment));
      return pair === undefined ? undefined : { key: pair.key, value: pair.value ?? pair.key };
    }
    if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment];
      return item === undefined ? undefined : { value: item };
    }
    return undefined;
  }

  /** The mapping's pairs by key (the first pair wins, as before; the loader refuses duplicates). */
  private pairs(map: YAMLMap): Map<string, Pair> {
    let byKey = this.index.get(map);
    if (byKey === undefined) {
      byKey = new Map();
      for (const p of map.items as Pair[]) {
        if (isScalar(p.key) && !byKey.has(String(p.key.value))) byKey.set(String(p.key.value), p);
      }
      this.index.set(map, byKey);
    }
    return byKey;
  }
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
