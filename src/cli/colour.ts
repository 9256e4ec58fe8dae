/**
 * Colour for people, never for programs: errors red, warnings yellow, success green, and only
 * when the stream is a terminal. NO_COLOR (https://no-color.org: set and not empty) and
 * `--no-color` turn it off; FORCE_COLOR is not honoured on purpose (nothing here needs it).
 */

let disabled = false;

/** `--no-color` anywhere on the command line (main() takes it out before parsing). */
export function disableColour(): void {
  disabled = true;
}

export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (disabled) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

export interface Paint {
  red(text: string): string;
  yellow(text: string): string;
  green(text: string): string;
}

const sgr = (code: number) => (text: string) => `\u001b[${code}m${text}\u001b[39m`;
const none = (text: string) => text;

/** Paint for one stream: ANSI colours on a terminal, the text unchanged otherwise. */
export function paint(stream: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): Paint {
  return colourEnabled(stream, env) ? { red: sgr(31), yellow: sgr(33), green: sgr(32) } : { red: none, yellow: none, green: none };
}
