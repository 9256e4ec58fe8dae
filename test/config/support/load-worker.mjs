// Loads config files on request, in a worker thread, so that the test can put a time bound on
// each load and end the worker if one never returns (a hang cannot be interrupted in-process).
// Runs the built loader (dist/), as the CLI does.
import { parentPort } from "node:worker_threads";
import { loadConfig } from "../../../dist/config/load.js";
import { HomelabError } from "../../../dist/errors.js";

parentPort.on("message", async ({ id, path }) => {
  try {
    const config = await loadConfig(path);
    parentPort.postMessage({ id, kind: "config", family: config.family });
  } catch (err) {
    parentPort.postMessage({
      id,
      kind: "error",
      homelab: err instanceof HomelabError,
      name: err?.constructor?.name,
      exitCode: err?.exitCode,
      message: String(err?.message ?? err),
      details: Array.isArray(err?.details) ? [...err.details] : [],
    });
  }
});
