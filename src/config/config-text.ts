import { isUtf8 } from "node:buffer";

/**
 * The bytes-to-text stage of the config loader. A homelab.yaml is a few KiB; the bound keeps a
 * hostile or mistaken file (a disk image passed with -c, gigabytes of blank lines) from costing
 * more than a second of parsing, and the checks turn encodings the YAML parser would misread
 * into a located message instead of garbage further on.
 */
export const MAX_CONFIG_BYTES = 1 << 20;

/** A problem with the text itself, located like every other config problem. */
export interface TextProblem {
  line: number;
  col: number;
  path: "";
  message: string;
}

/** UTF-8 text of a config file, or why it cannot be read as one. */
export function decodeConfigBytes(bytes: Uint8Array): { text: string } | { problem: TextProblem } {
  const bom = foreignBom(bytes);
  if (bom !== undefined) {
    return { problem: { line: 1, col: 1, path: "", message: `the file is ${bom}; homelab reads UTF-8 (save it as UTF-8)` } };
  }
  if (!isUtf8(bytes)) {
    const bad = firstInvalidUtf8(bytes);
    let lineStart = 0;
    let line = 1;
    for (let i = 0; i < bad; i++) {
      if (bytes[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    const col = Buffer.from(bytes.subarray(lineStart, bad)).toString("utf8").length + 1;
    const hex = bytes[bad]!.toString(16).padStart(2, "0");
    return { problem: { line, col, path: "", message: `not valid UTF-8 (byte 0x${hex}); homelab reads UTF-8` } };
  }
  return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8") };
}

/**
 * Size and character checks on config text (also for text that did not come from a file).
 * YAML 1.2 allows only printable characters (tab, LF, CR, and no C0/C1 controls except NEL);
 * the `yaml` parser is lenient about them, and a NUL or an ESC that got through would end up in
 * messages and keys.
 */
export function checkConfigText(text: string): TextProblem | undefined {
  // Characters, then bytes: the byte count needs a pass only when the characters are near the limit.
  if (text.length > MAX_CONFIG_BYTES || (text.length * 3 > MAX_CONFIG_BYTES && Buffer.byteLength(text, "utf8") > MAX_CONFIG_BYTES)) {
    return { line: 1, col: 1, path: "", message: `the config is larger than ${MAX_CONFIG_BYTES / 1024} KiB (a homelab.yaml is a few KiB)` };
  }
  const bad = NON_PRINTABLE.exec(text);
  if (bad === null) return undefined;
  const { line, col } = positionOf(text, bad.index);
  const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
  return { line, col, path: "", message: `invalid YAML: control character U+${code} is not allowed (YAML allows only printable characters)` };
}

// Everything outside YAML 1.2's c-printable, in UTF-16 terms (lone surrogates included).
const NON_PRINTABLE =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u0084\u0086-\u009F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** 1-based line and column of a character offset (one linear pass, done once per problem). */
export function positionOf(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

function foreignBom(b: Uint8Array): string | undefined {
  if (b[0] === 0x00 && b[1] === 0x00 && b[2] === 0xfe && b[3] === 0xff) return "UTF-32 (big-endian)";
  if (b[0] === 0xff && b[1] === 0xfe && b[2] === 0x00 && b[3] === 0x00) return "UTF-32 (little-endian)";
  if (b[0] === 0xfe && b[1] === 0xff) return "UTF-16 (big-endian)";
  if (b[0] === 0xff && b[1] === 0xfe) return "UTF-16 (little-endian)";
  return undefined;
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0; // overlong
      if (c === 0xed) hi = 0x9f; // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90; // overlong
      if (c === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    for (let k = 1; k <= need; k++) {
      const n = b[i + k];
      if (n === undefined || n < (k === 1 ? lo : 0x80) || n > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return b.length;
}

/**
 * JSON.stringify, plus \u escapes for what it leaves raw but a terminal or an editor acts on:
 * DEL and the C1 controls (0x9b is a one-byte CSI), format characters (bidi overrides) and the
 * Unicode line and paragraph separators.
 */
export function quoteVisibly(s: string): string {
  return escapeInvisible(JSON.stringify(s));
}

/** Text from elsewhere (the YAML parser's messages quote the source) with every control, format or separator character as a \u escape. */
export function escapeInvisible(s: string): string {
  return s.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
