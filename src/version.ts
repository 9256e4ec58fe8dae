import { readFileSync } from "node:fs";

/**
 * homelab's own version, read from package.json so there is one place to change it. The file sits
 * one level above this module both in src/ (tests) and in dist/ (the published package ships it).
 */
export const VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
