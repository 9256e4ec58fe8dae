/**
 * Packer's `-machine-readable` output: one line per message, `timestamp,target,type,data...`.
 *
 * Packer (MachineReadableUi.Machine) escapes each data field by replacing `,` with
 * `%!(PACKER_COMMA)`, CR with the two characters `\r` and LF with `\n`. It does not escape the
 * backslash itself, so a field whose original text held a literal backslash followed by `n` comes
 * back as a newline: the format is lossy there, and we decode it the way Packer's own docs say.
 *
 * The parser is incremental: feed it the raw byte chunks of Packer's stdout as they arrive (a line,
 * or even a UTF-8 character, may be split across chunks) and it yields typed events in order.
 */

/** One raw machine-readable line, fields already unescaped. */
export interface MachineLine {
  /** Unix time in seconds, as Packer wrote it. */
  readonly timestamp: number;
  /** The build (`qemu.node`), or "" for messages about the whole run. */
  readonly target: string;
  readonly type: string;
  readonly data: readonly string[];
}

export type UiLevel = "say" | "message" | "error";

/** One file or the whole of an artifact, as Packer reported it when the build finished. */
export interface PackerArtifact {
  /** The build that produced it (`qemu.node`). */
  readonly target: string;
  /** Position among the build's artifacts (0-based, as Packer numbers them). */
  readonly index: number;
  readonly builderId?: string;
  readonly id?: string;
  /** Packer's one-line description of the artifact. */
  readonly description?: string;
  readonly files: readonly string[];
}

export type PackerEvent =
  /** `==> build: ...` (say), provisioner output (message), or an error line. */
  | {
      readonly kind: "ui";
      readonly level: UiLevel;
      /** The machine-readable target field (empty for ui lines in Packer's HCL2 mode). */
      readonly target: string;
      /** The build the line is about, from the target or else from the `==> build:` prefix. */
      readonly build?: string;
      /** The post-processor speaking, from `==> build (vagrant):`. */
      readonly postProcessor?: string;
      /** Packer's text, decoded, prefixes included (what a user would have seen). */
      readonly text: string;
      /** The text without the `==> build:` / `    build:` prefix on each line. */
      readonly body: string;
      /**
       * True for an error-level line that is the stderr of a command the build ran (a provisioner
       * script in the guest, the shutdown command, a local script): output, not an error of Packer's.
       * Packer's communicator sends a command's stdout to ui.Message and its stderr to ui.Error, so
       * the level alone cannot tell `debconf: delaying package configuration` from a failed step.
       */
      readonly remote?: boolean;
      readonly timestamp: number;
    }
  /** How many artifacts a build produced (announced before the artifacts themselves). */
  | { readonly kind: "artifact-count"; readonly target: string; readonly count: number; readonly timestamp: number }
  /** An artifact, emitted once its `end` line has arrived. */
  | { readonly kind: "artifact"; readonly artifact: PackerArtifact; readonly timestamp: number }
  /** A build failed; `message` is Packer's own error text. */
  | { readonly kind: "build-error"; readonly target: string; readonly message: string; readonly timestamp: number }
  /** Number of builds that failed (0 on success), written at the end of a run. */
  | { readonly kind: "error-count"; readonly count: number; readonly timestamp: number }
  /** Any other line (`version`, `ui` levels we do not know, `artifact` subtypes we skip…). */
  | { readonly kind: "other"; readonly line: MachineLine };

const COMMA = "%!(PACKER_COMMA)";

/** Reverses Packer's per-field escaping. `\r` and `\n` are decoded in one pass, left to right. */
export function decodeField(field: string): string {
  return field.replaceAll(COMMA, ",").replace(/\\([rn])/g, (_, c: string) => (c === "n" ? "\n" : "\r"));
}

/** Packer's escaping, for tests and fixtures: the inverse of decodeField on backslash-free text. */
export function encodeField(text: string): string {
  return text.replaceAll(",", COMMA).replaceAll("\r", "\\r").replaceAll("\n", "\\n");
}

/**
 * Parses one line (without its newline). Returns undefined for text that is not machine-readable
 * (Packer prints some things, e.g. plugin crashes, straight to stdout).
 */
export function parseMachineLine(line: string): MachineLine | undefined {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  const first = text.indexOf(",");
  if (first <= 0) return undefined;
  const stamp = text.slice(0, first);
  if (!/^\d+$/.test(stamp)) return undefined;
  const second = text.indexOf(",", first + 1);
  if (second < 0) return undefined;
  const target = text.slice(first + 1, second);
  const rest = text.slice(second + 1);
  const third = rest.indexOf(",");
  const type = third < 0 ? rest : rest.slice(0, third);
  if (type === "") return undefined;
  const data = third < 0 ? [] : rest.slice(third + 1).split(",").map(decodeField);
  return { timestamp: Number(stamp), target, type, data };
}

/**
 * Packer prefixes each line of a build's ui output with `==> build: ` (say and error),
 * `    build: ` (message) or `--> build: ` (the artifact summary); a post-processor speaks as
 * `==> build (vagrant): `. In HCL2 mode (Packer 1.6) the target field of those lines is empty, so
 * the prefix is the only place that says which build is talking.
 */
const UI_PREFIX = /^(?:==>|-->| {4}) ?([^\s:()][^\s:()]*)(?: \(([^)]+)\))?: ?/;

export function splitUiPrefix(text: string): { build?: string; postProcessor?: string; body: string } {
  const lines = text.replace(/^\n+/, "").split("\n");
  const head = UI_PREFIX.exec(lines[0] ?? "");
  if (!head) return { body: lines.join("\n").replace(/^==> /, "") };
  const build = head[1] as string;
  const postProcessor = head[2];
  const body = lines
    .map((line) => {
      const m = UI_PREFIX.exec(line);
      return m && m[1] === build ? line.slice(m[0].length) : line;
    })
    .join("\n");
  return { build, ...(postProcessor === undefined ? {} : { postProcessor }), body };
}

/** Collects the `artifact,N,<key>,...` lines of each build until that artifact's `end`. */
class ArtifactAssembler {
  private readonly pending = new Map<string, { builderId?: string; id?: string; description?: string; files: string[] }>();

  /** Returns the finished artifact when `line` is its `end`, else undefined. */
  accept(line: MachineLine): PackerArtifact | undefined {
    const [indexText, key, ...values] = line.data;
    const index = Number(indexText);
    if (!Number.isInteger(index) || key === undefined) return undefined;
    const slot = `${line.target}\u0000${index}`;
    let entry = this.pending.get(slot);
    if (!entry) {
      entry = { files: [] };
      this.pending.set(slot, entry);
    }
    switch (key) {
      case "builder-id":
        entry.builderId = values[0] ?? "";
        break;
      case "id":
        entry.id = values[0] ?? "";
        break;
      case "string":
        entry.description = values[0] ?? "";
        break;
      case "file": {
        // `file,<i>,<path>`: keep Packer's order even if lines came out of order.
        const i = Number(values[0]);
        if (Number.isInteger(i) && values[1] !== undefined) entry.files[i] = values[1];
        break;
      }
      case "end": {
        this.pending.delete(slot);
        return {
          target: line.target,
          index,
          ...(entry.builderId === undefined ? {} : { builderId: entry.builderId }),
          ...(entry.id === undefined ? {} : { id: entry.id }),
          ...(entry.description === undefined ? {} : { description: entry.description }),
          files: entry.files.filter((f) => f !== undefined),
        };
      }
      default:
        // files-count, nil and future keys carry nothing we need.
        break;
    }
    return undefined;
  }
}

/**
 * The steps (a build's `==> build: ...` say line) during which the build runs a command whose
 * stderr Packer prints as error lines: shell and shell-local provisioners (Packer 1.6
 * provisioner/shell, provisioner/shell-local), the cleanup provisioner, and the shutdown command
 * (common.StepShutdown of the qemu and virtualbox builders).
 */
const COMMAND_STEP = /^(?:Provisioning with |Provisioning step had errors|Running local shell script|Gracefully halting)/;

/**
 * Turns parsed lines into typed events; stateful for artifacts spread over several lines and for
 * each build's current step (which tells a command's stderr from Packer's own errors).
 */
export class EventMapper {
  private readonly artifacts = new ArtifactAssembler();
  private readonly steps = new Map<string, string>();

  map(line: MachineLine): PackerEvent | undefined {
    const { target, timestamp, data } = line;
    switch (line.type) {
      case "ui": {
        const [level, text] = data;
        if (level === "say" || level === "message" || level === "error") {
          const raw = text ?? "";
          const { build, postProcessor, body } = splitUiPrefix(raw);
          const who = target !== "" ? target : build;
          if (who !== undefined && level === "say") this.steps.set(who, body.trim());
          const remote = who !== undefined && level === "error" && COMMAND_STEP.test(this.steps.get(who) ?? "");
          return {
            kind: "ui",
            level,
            target,
            ...(who === undefined ? {} : { build: who }),
            ...(postProcessor === undefined ? {} : { postProcessor }),
            text: raw,
            body,
            ...(remote ? { remote } : {}),
            timestamp,
          };
        }
        break;
      }
      case "artifact-count": {
        const count = Number(data[0]);
        if (Number.isInteger(count)) return { kind: "artifact-count", target, count, timestamp };
        break;
      }
      case "artifact": {
        // Artifact lines are always consumed; only the `end` line yields an event.
        const artifact = this.artifacts.accept(line);
        return artifact ? { kind: "artifact", artifact, timestamp } : undefined;
      }
      case "error":
        if (target !== "") return { kind: "build-error", target, message: data[0] ?? "", timestamp };
        break;
      case "error-count": {
        const count = Number(data[0]);
        if (Number.isInteger(count)) return { kind: "error-count", count, timestamp };
        break;
      }
    }
    return { kind: "other", line };
  }
}

/**
 * Incremental parser: `push` raw stdout chunks, get the events completed by that chunk. Text
 * lines that are not machine-readable are reported through `onNoise` (they still go to the log).
 */
export class MachineReadableParser {
  private readonly decoder = new TextDecoder("utf-8");
  private readonly mapper = new EventMapper();
  private buffered = "";

  constructor(private readonly onNoise: (line: string) => void = () => {}) {}

  push(chunk: Uint8Array | string): PackerEvent[] {
    this.buffered += typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    const events: PackerEvent[] = [];
    let start = 0;
    for (let newline = this.buffered.indexOf("\n"); newline >= 0; newline = this.buffered.indexOf("\n", start)) {
      this.take(this.buffered.slice(start, newline), events);
      start = newline + 1;
    }
    this.buffered = this.buffered.slice(start);
    return events;
  }

  /** Flushes a last line that had no newline (Packer killed mid-write). */
  end(): PackerEvent[] {
    this.buffered += this.decoder.decode();
    const events: PackerEvent[] = [];
    if (this.buffered !== "") this.take(this.buffered, events);
    this.buffered = "";
    return events;
  }

  private take(raw: string, into: PackerEvent[]): void {
    if (raw.trim() === "") return;
    const line = parseMachineLine(raw);
    if (!line) {
      this.onNoise(raw);
      return;
    }
    const event = this.mapper.map(line);
    if (event) into.push(event);
  }
}

/** Parses a whole recorded stream (tests, `homelab` reading an old log). */
export function parseMachineReadable(text: string): PackerEvent[] {
  const parser = new MachineReadableParser();
  return [...parser.push(text), ...parser.end()];
}
