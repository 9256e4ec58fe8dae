import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { InputError } from "../../src/errors.js";
import { newState, readState, writeState } from "../../src/cluster/state.js";
import { topologyOf } from "../../src/cluster/topology.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "homelab-state-"));
  dirs.push(d);
  return d;
};

describe("the cluster state file", () => {
  it("is 0600 from its first write (it holds the join token), and reads back what was written", async () => {
    const dir = join(tmp(), "lab");
    const state = newState(topologyOf(parseConfig("debian: {}\nk8s: {distribution: kubeadm}\ncluster: {}\n")));
    state.steps.facts = "done";
    await writeState(dir, state);
    expect(statSync(join(dir, "cluster.json")).mode & 0o777).toBe(0o600);
    expect(await readState(dir)).toEqual(state);
    expect(await readState(tmp())).toBeUndefined();
  });

  it("refuses a file homelab did not write, with exit 2", async () => {
    const dir = tmp();
    writeFileSync(join(dir, "cluster.json"), '{"steps": {}}');
    await expect(readState(dir)).rejects.toBeInstanceOf(InputError);
    writeFileSync(join(dir, "cluster.json"), "not json");
    await expect(readState(dir)).rejects.toThrow(/not valid JSON/);
  });
});
