import { isChoice, isRef, isTemplate, type HclRef, type HclValue } from "./hcl-value.js";

/**
 * Rendering of HCL2 in the layout `packer fmt` produces (hclwrite's rules): two-space indent,
 * and the `=` of consecutive attribute lines aligned. Escaping lives in `quote`, the only place
 * a literal string is turned into HCL.
 */

const INDENT = "  ";
const INLINE_LIST_WIDTH = 80;

/**
 * Quotes a literal string. Besides the JSON-style escapes, HCL templates treat `${` and `%{`
 * as interpolation/directive openers, which are escaped by doubling the sigil. Control
 * characters and the Unicode line/paragraph separators become \u escapes so a value always
 * stays on one line.
 */
export function quote(value: string): string {
  return `"${escapeLiteral(value)}"`;
}

/**
 * HCL normalises every string literal to Unicode NFC (escapes included), so a non-NFC string
 * would silently come back different. Such a value is refused instead of altered.
 */
function assertNfc(value: string): void {
  if (value.normalize("NFC") !== value) {
    throw new Error(`HCL would alter this string (it is not in Unicode NFC form): ${JSON.stringify(value)}`);
  }
}

function escapeLiteral(value: string): string {
  assertNfc(value);
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    const code = ch.charCodeAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if ((ch === "$" || ch === "%") && value[i + 1] === "{") out += ch + ch;
    else if (code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029) {
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    } else out += ch;
  }
  return out;
}

/**
 * A template string: literal parts escaped, references interpolated. Adjacent literals are
 * merged first so an escape can never be split across parts; a literal `$` or `%` right before
 * an interpolation would turn it into an escaped literal, so that is refused.
 */
function renderTemplate(parts: ReadonlyArray<string | HclRef>): string {
  const merged: Array<string | HclRef> = [];
  for (const part of parts) {
    const last = merged[merged.length - 1];
    if (typeof part === "string" && typeof last === "string") merged[merged.length - 1] = last + part;
    else merged.push(part);
  }
  let out = "";
  merged.forEach((part, i) => {
    if (typeof part !== "string") {
      out += `\${${part.path}}`;
      return;
    }
    if (/[$%]$/.test(part) && merged[i + 1] !== undefined) {
      throw new Error(`template literal ${JSON.stringify(part)} ends in a sigil before an interpolation`);
    }
    out += escapeLiteral(part);
  });
  return `"${out}"`;
}

/** A value rendered at the given indentation depth (continuation lines are indented). */
export function renderValue(value: HclValue, depth = 0): string {
  if (typeof value === "string") return quote(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`cannot render non-finite number ${value}`);
    return String(value);
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (isRef(value)) return value.path;
  if (isTemplate(value)) return renderTemplate(value.parts);
  if (isChoice(value)) return `${value.when.path} == ${quote(value.equals)} ? ${quote(value.then)} : ${quote(value.otherwise)}`;
  if (Array.isArray(value)) return renderList(value as readonly HclValue[], depth);
  return renderObject(value as { readonly [key: string]: HclValue }, depth);
}

function renderList(items: readonly HclValue[], depth: number): string {
  if (items.length === 0) return "[]";
  const inline = items.every(isScalar) ? `[${items.map((v) => renderValue(v, depth)).join(", ")}]` : undefined;
  if (inline !== undefined && inline.length <= INLINE_LIST_WIDTH) return inline;
  const pad = INDENT.repeat(depth + 1);
  const lines = items.map((v) => `${pad}${renderValue(v, depth + 1)},`);
  return `[\n${lines.join("\n")}\n${INDENT.repeat(depth)}]`;
}

function renderObject(obj: { readonly [key: string]: HclValue }, depth: number): string {
  const keys = Object.keys(obj);
  if (keys.length === 0) return "{}";
  const body = renderAttributes(
    keys.map((k) => [k, obj[k]!] as const),
    depth + 1,
  );
  return `{\n${body}\n${INDENT.repeat(depth)}}`;
}

function isScalar(v: HclValue): boolean {
  return typeof v !== "object" || isRef(v) || isTemplate(v) || isChoice(v);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Attribute lines at `depth`. hclwrite aligns `=` across a run of consecutive single-line
 * attributes; an attribute whose value spans lines stands alone (it ends the run before it,
 * is not padded, and starts a new run after it), as `packer fmt` checks.
 */
export function renderAttributes(entries: ReadonlyArray<readonly [string, HclValue]>, depth: number): string {
  const pad = INDENT.repeat(depth);
  const rendered = entries.map(([key, value]) => {
    if (!IDENTIFIER.test(key)) throw new Error(`not an HCL attribute name: ${JSON.stringify(key)}`);
    return { key, text: renderValue(value, depth) };
  });
  const lines: string[] = [];
  let run: typeof rendered = [];
  const flush = () => {
    const width = Math.max(...run.map((r) => r.key.length));
    for (const r of run) lines.push(`${pad}${r.key.padEnd(width)} = ${r.text}`);
    run = [];
  };
  for (const r of rendered) {
    if (r.text.includes("\n")) {
      if (run.length > 0) flush();
      lines.push(`${pad}${r.key} = ${r.text}`);
    } else run.push(r);
  }
  if (run.length > 0) flush();
  return lines.join("\n");
}

/** A block with labels, e.g. `source "qemu" "alpine" { ... }`; `body` is already rendered. */
export function renderBlock(type: string, labels: readonly string[], body: string, depth = 0): string {
  const pad = INDENT.repeat(depth);
  const head = [type, ...labels.map(quote)].join(" ");
  return body.length === 0 ? `${pad}${head} {\n${pad}}` : `${pad}${head} {\n${body}\n${pad}}`;
}

/** Attributes of an options object, dropping undefined entries (optional options left out). */
export function optionEntries(options: object): Array<readonly [string, HclValue]> {
  return Object.entries(options).filter(([, v]) => v !== undefined) as Array<readonly [string, HclValue]>;
}
