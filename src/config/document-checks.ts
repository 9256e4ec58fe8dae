import { quoteVisibly } from "./config-text.js";
import { CST, isAlias, isCollection, isMap, isScalar, isSeq, Lexer, type Document, type LineCounter, type Node } from "yaml";

/** A config is a handful of nested sections; anything deeper is a mistake or an attack. */
export const MAX_DEPTH = 64;
/**
 * yaml's parser costs several microseconds per token and per line, far more than reading the
 * bytes, so the byte limit alone still let a 1 MiB file of blank lines or `a,a,a,...` take tens
 * of seconds. A homelab.yaml has a few hundred tokens; these limits leave room for 40k keys.
 */
export const MAX_TOKENS = 1 << 18;
export const MAX_LINES = 1 << 16;
/** Anchors and aliases are allowed (people share a value), but a real config needs only a few. */
export const MAX_ALIASES = 100;
/** How far the aliases may expand when converted (yaml's own alias-bomb guard, see toJS). */
export const MAX_ALIAS_EXPANSION = 100;

/**
 * The first place where the text is too big or nests too deep for the parser, found on the
 * lexer's tokens (linear, iterative) before anything is parsed: yaml's parser slows down sharply
 * with depth (200k nested `[` took over ten seconds) and its composer recurses until the stack
 * runs out. Depth is over-estimated, never under-estimated: open indentation levels + block
 * indicators (`- `, `? `, `: `) on the current line + open flow collections.
 */
export function checkStructure(text: string): { offset: number; message: string } | undefined {
  let lines = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    if (++lines > MAX_LINES) return { offset: i + 1, message: `more than ${MAX_LINES} lines (a homelab.yaml has a few dozen)` };
  }
  let tokens = 0;
  const indents: number[] = [];
  let offset = 0;
  let flow = 0;
  let indicators = 0;
  let lineStart = true;
  let indent = 0;
  let scalarBody = false;
  for (const token of new Lexer().lex(text)) {
    const start = offset;
    // The lexer's markers (document, scalar, flow-error) are not source text.
    if (token === CST.DOCUMENT || token === CST.FLOW_END) continue;
    if (token === CST.SCALAR) {
      scalarBody = true;
      continue;
    }
    offset += token.length;
    if (++tokens > MAX_TOKENS) return { offset: start, message: `more than ${MAX_TOKENS} YAML tokens (a homelab.yaml has a few hundred)` };
    if (scalarBody) {
      // The body of a scalar, whatever it looks like ("-", ":", "[" are plain scalars here).
      scalarBody = false;
    } else {
      const type = CST.tokenType(token);
      if (type === "newline") {
        lineStart = true;
        indent = 0;
        indicators = 0;
        continue;
      }
      if (type === "space" || type === "comment" || type === "byte-order-mark") {
        if (type === "space" && lineStart) indent = token.length;
        continue;
      }
      if (type === "flow-seq-start" || type === "flow-map-start") flow++;
      else if (type === "flow-seq-end" || type === "flow-map-end") {
        // yaml reports each stray closer as its own error, slowly: one located message is enough.
        if (flow === 0) return { offset: start, message: `unexpected ${JSON.stringify(token)} with no [ or { open` };
        flow--;
      }
      else if (flow === 0 && (type === "seq-item-ind" || type === "explicit-key-ind" || type === "map-value-ind")) indicators++;
    }
    if (lineStart) {
      lineStart = false;
      if (flow === 0) {
        while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
        indents.push(indent);
      }
    }
    if (indents.length + indicators + flow > MAX_DEPTH) return { offset: start, message: `nested deeper than ${MAX_DEPTH} levels` };
  }
  return undefined;
}

export interface DocumentProblem {
  line: number;
  col: number;
  path: "";
  message: string;
}

/**
 * What the `yaml` parser does not check, or checks too slowly, in one linear pass over the
 * document in source order: duplicate keys (yaml's `uniqueKeys` compares every pair of keys, which
 * made 40k keys take most of a minute), keys that are not scalars, aliases without an anchor
 * before them, too many aliases (yaml resolves each alias with a scan of the whole document) and
 * nesting deeper than MAX_DEPTH. Iterative, so no input can exhaust the call stack.
 */
export function checkDocument(doc: Document, lines: LineCounter): DocumentProblem[] {
  const problems: DocumentProblem[] = [];
  const at = (node: unknown, message: string): DocumentProblem => ({ ...position(node, lines), path: "", message: `invalid YAML: ${message}` });
  const anchors = new Set<string>();
  // Anchored collections still being walked: an alias to one of them would make a cycle.
  const open = new Map<string, number>();
  let aliases = 0;
  // Children are pushed in reverse so they are visited in source order (an alias must follow its
  // anchor); an anchored collection's anchor is closed by a marker pushed below its children.
  const stack: Array<{ node: unknown; depth: number } | { close: string }> = [{ node: doc.contents, depth: 1 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ("close" in item) {
      open.set(item.close, open.get(item.close)! - 1);
      anchors.add(item.close);
      continue;
    }
    const { node, depth } = item;
    if (node === null || node === undefined) continue;
    if (depth > MAX_DEPTH) {
      problems.push(at(node, `nested deeper than ${MAX_DEPTH} levels`));
      break;
    }
    if (isAlias(node)) {
      aliases++;
      if (aliases > MAX_ALIASES) {
        problems.push(at(node, `more than ${MAX_ALIASES} aliases`));
        break;
      }
      const name = /^[\w.-]{1,64}$/.test(node.source) ? node.source : quoteVisibly(node.source).slice(0, 80);
      if ((open.get(node.source) ?? 0) > 0) problems.push(at(node, `alias *${name} is inside the node it names (a cycle)`));
      else if (!anchors.has(node.source)) problems.push(at(node, `alias *${name} has no anchor &${name} before it`));
      continue;
    }
    const anchor = (node as Node).anchor;
    if (typeof anchor === "string") {
      if (isCollection(node)) {
        open.set(anchor, (open.get(anchor) ?? 0) + 1);
        stack.push({ close: anchor });
      } else anchors.add(anchor);
    }
    if (isMap(node)) {
      const seen = new Map<string, unknown>();
      const children: unknown[] = [];
      for (const pair of node.items) {
        const key = pair.key;
        if (isCollection(key) || isAlias(key)) {
          problems.push(at(key, "expected a plain key, got a collection or an alias as a key"));
        } else {
          // An anchored key can be aliased too (toJS still has the final word on alias order).
          if (isScalar(key) && typeof key.anchor === "string") anchors.add(key.anchor);
          const name = isScalar(key) ? String(key.value) : String(key);
          const first = seen.get(name);
          if (first !== undefined) {
            problems.push(at(key, `map keys must be unique (${JSON.stringify(name).slice(0, 80)} is also on line ${position(first, lines).line})`));
          } else seen.set(name, key);
        }
        children.push(pair.value);
      }
      for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i], depth: depth + 1 });
    } else if (isSeq(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) stack.push({ node: node.items[i], depth: depth + 1 });
    }
  }
  return problems;
}

function position(node: unknown, lines: LineCounter): { line: number; col: number } {
  const offset = (node as Node | null)?.range?.[0] ?? 0;
  const pos = lines.linePos(offset);
  return pos.line === 0 ? { line: 1, col: 1 } : pos;
}
