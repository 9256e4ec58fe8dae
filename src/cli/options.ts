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

/** Parses a TCP port flag (0 = any free port), or fails with a usage error naming the flag. */
export function portNumber(flag: string): (value: string) => number {
  return (value: string) => {
    const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
    if (!(n >= 0 && n <= 65535)) throw new InputError(`${flag}: expected a port from 0 to 65535 (0: any free port), got ${JSON.stringify(value)}`);
    return n;
  };
}
