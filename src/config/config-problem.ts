import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import { InputError } from "../errors.js";
import { ConfigError } from "./load.js";
import { SourceMap } from "./source-map.js";

/**
 * A problem found after loading (a checksum that does not match, a version the registry would
 * refuse), pointed at `file:line:col` of the field in the config it came from, like a schema
 * error. `origin` is the file the config was read from; for the embedded default, or a file
 * that cannot be read again, the error names the field only.
 */
export async function configProblem(origin: string, path: readonly string[], message: string): Promise<InputError> {
  const text = await readFile(origin, "utf8").catch(() => undefined);
  if (text === undefined) return new InputError(`${path.join(".")}: ${message}`);
  const lines = new LineCounter();
  const map = new SourceMap(parseDocument(text, { lineCounter: lines }), lines);
  return new ConfigError(origin, [{ ...map.locate(path), path: path.join("."), message }]);
}
