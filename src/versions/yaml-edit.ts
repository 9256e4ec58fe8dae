import { isMap, isScalar, parseDocument, Scalar, type Document, type Pair, type YAMLMap } from "yaml";

/** Set `<section>.<key>` to a string value; when the key is absent, add it after `after`. */
export interface PinEdit {
  section: string;
  key: string;
  value: string;
  /** Sibling key the new line goes after when `key` is absent (default: the section's last key). */
  after?: string;
}

/**
 * Applies pin edits to homelab.yaml text, touching only the bytes of the changed values: every
 * comment, blank line, key order and quoting style elsewhere stays byte-for-byte. Values must
 * already be validated version strings (they are written as plain or in the original quotes).
 * Shapes the splicer does not handle (flow mappings, an empty section) fall back to the yaml
 * Document API, which keeps comments and order but may re-indent.
 */
export function applyPinEdits(text: string, edits: readonly PinEdit[]): string {
  for (const e of edits) {
    if (!/^[A-Za-z0-9.+:_-]+$/.test(e.value)) throw new Error(`refusing to write ${JSON.stringify(e.value)} into homelab.yaml`);
  }
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) throw new Error(`cannot edit invalid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
  const result = splice(text, doc, edits) ?? viaDocument(doc, edits);
  verify(text, result, edits);
  return result;
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

function splice(text: string, doc: Document, edits: readonly PinEdit[]): string | undefined {
  const top = doc.contents;
  if (!isMap(top) || top.flow) return undefined;
  // Keep the file's line breaks (a Windows-edited homelab.yaml stays CRLF).
  const nl = text.includes("\r\n") ? "\r\n" : "\n";
  const splices: Splice[] = [];
  const appended = new Map<string, PinEdit[]>();
  for (const edit of edits) {
    const sectionPair = findPair(top, edit.section);
    if (sectionPair === undefined) {
      appended.set(edit.section, [...(appended.get(edit.section) ?? []), edit]);
      continue;
    }
    const section = sectionPair.value;
    if (!isMap(section) || section.flow || section.items.length === 0) return undefined;
    const pair = findPair(section, edit.key);
    if (pair !== undefined) {
      const node = pair.value;
      if (!isScalar(node) || node.range == null || !["PLAIN", "QUOTE_DOUBLE", "QUOTE_SINGLE"].includes(String(node.type))) return undefined;
      const quote = node.type === "QUOTE_DOUBLE" ? '"' : node.type === "QUOTE_SINGLE" ? "'" : "";
      splices.push({ start: node.range[0], end: node.range[1], text: `${quote}${edit.value}${quote}` });
      continue;
    }
    const anchor = (edit.after === undefined ? undefined : findPair(section, edit.after)) ?? (section.items.at(-1) as Pair);
    const anchorKey = anchor.key as Scalar;
    const anchorValue = anchor.value as Scalar | null;
    if (anchorKey.range == null) return undefined;
    if (anchorValue !== null && (!isScalar(anchorValue) || anchorValue.range == null)) return undefined;
    const valueEnd = anchorValue?.range?.[1] ?? anchorKey.range[1];
    const eol = text.indexOf("\n", valueEnd);
    // The new line goes after the anchor's line (after its trailing comment), before its break.
    const at = eol === -1 ? text.length : text[eol - 1] === "\r" ? eol - 1 : eol;
    const indent = anchorKey.range[0] - (text.lastIndexOf("\n", anchorKey.range[0] - 1) + 1);
    const line = `${nl}${" ".repeat(indent)}${edit.key}: ${edit.value}`;
    // Several new keys after the same anchor keep the order the edits came in.
    const same = splices.find((s) => s.start === at && s.end === at);
    if (same) same.text += line;
    else splices.push({ start: at, end: at, text: line });
  }
  let out = text;
  for (const s of splices.sort((a, b) => b.start - a.start)) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  for (const [section, sectionEdits] of appended) {
    const indent = childIndent(top, text);
    if (out.length > 0 && !out.endsWith("\n")) out += nl;
    out += `${section}:${nl}${sectionEdits.map((e) => `${" ".repeat(indent)}${e.key}: ${e.value}${nl}`).join("")}`;
  }
  return out;
}

function viaDocument(doc: Document, edits: readonly PinEdit[]): string {
  for (const edit of edits) doc.setIn([edit.section, edit.key], edit.value);
  return doc.toString();
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return (map.items as Pair[]).find((p) => isScalar(p.key) && String(p.key.value) === key);
}

/** The indentation the file uses for nested keys (2 when there are none to copy). */
function childIndent(top: YAMLMap, text: string): number {
  for (const pair of top.items as Pair[]) {
    const inner = pair.value;
    if (isMap(inner) && !inner.flow) {
      const key = (inner.items[0] as Pair | undefined)?.key as Scalar | undefined;
      if (key?.range) return key.range[0] - (text.lastIndexOf("\n", key.range[0] - 1) + 1);
    }
  }
  return 2;
}

/** The edit must have set exactly the intended values and nothing else. */
function verify(before: string, after: string, edits: readonly PinEdit[]): void {
  const oldData = parseDocument(before).toJS() as Record<string, Record<string, unknown> | null> | null;
  const doc = parseDocument(after);
  if (doc.errors.length > 0) throw new Error(`internal error: the rewritten homelab.yaml does not parse: ${doc.errors[0]!.message}`);
  const newData = doc.toJS() as Record<string, Record<string, unknown> | null> | null;
  const expected = structuredClone(oldData ?? {});
  for (const e of edits) {
    const section = (expected[e.section] ??= {}) ?? {};
    section[e.key] = e.value;
    expected[e.section] = section;
  }
  if (JSON.stringify(sortKeys(expected)) !== JSON.stringify(sortKeys(newData ?? {}))) {
    throw new Error("internal error: rewriting homelab.yaml would change more than the pinned versions");
  }
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}
