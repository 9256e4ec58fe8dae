import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ContributeContext } from "./contributor.js";

/** assets/ at the package root: two levels up from src/contributors and dist/contributors. */
const ASSETS_DIR = fileURLToPath(new URL("../../assets/", import.meta.url));

const cache = new Map<string, string>();

/** Reads shipped assets once per process (generate renders several flavours in a run). */
export const packagedAssets: ContributeContext = {
  asset(path: string): string {
    let text = cache.get(path);
    if (text === undefined) {
      text = readFileSync(`${ASSETS_DIR}${path}`, "utf8");
      cache.set(path, text);
    }
    return text;
  },
};
