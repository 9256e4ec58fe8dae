import { InputError } from "../errors.js";

/** Default config file name, looked up in the working directory. */
export const DEFAULT_CONFIG_FILE = "homelab.yaml";

/** Parses a positive integer flag value, or fails with a usage error naming the flag. */
export function positiveInt(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InputError(`${flag}: expected a positive whole number, got ${JSON.stringify(value)}`);
    return n;
  };
}
