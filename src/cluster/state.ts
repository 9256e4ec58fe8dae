import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../fs/atomic-write.js";
import { InputError } from "../errors.js";
import type { Topology } from "./topology.js";
import type { Secrets } from "./plan.js";

export const STATE_FILE = "cluster.json";

export type StepState = "started" | "done";

/** What a node told the facts step. */
export interface NodeFacts {
  hostname: string;
  /** The interface that holds the node's private address (found by the address, never by name). */
  iface: string;
  /** The interface of the default route (the management network's). */
  defaultIface: string;
}

/**
 * `.homelab/clusters/<name>/cluster.json`, mode 0600 (it holds the join token). Written after
 * every step, atomically, so a failed or cancelled `up` resumes from the step that did not finish.
 */
export interface ClusterState {
  generator: "homelab";
  topology: Topology;
  secrets: Secrets;
  steps: Record<string, StepState>;
  facts: Record<string, NodeFacts>;
  /** Image IDs in each node's store before the bootstrap (the air-gap check compares). */
  imagesBefore: Record<string, string[]>;
  podSubnet?: string;
  caCertHash?: string;
  /** Seconds each phase took, from the run that did it. */
  phases: Record<string, number>;
}

export function newState(topology: Topology): ClusterState {
  return { generator: "homelab", topology, secrets: newSecrets(), steps: {}, facts: {}, imagesBefore: {}, phases: {} };
}

/** A kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) and a 32-byte certificate key. */
export function newSecrets(): Secrets {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const pick = (n: number) => [...randomBytes(n)].map((b) => alphabet[b % 36]).join("");
  return { token: `${pick(6)}.${pick(16)}`, certificateKey: randomBytes(32).toString("hex") };
}

export async function readState(dir: string): Promise<ClusterState | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InputError(`${join(dir, STATE_FILE)}: not valid JSON (not written by homelab?); move it away to start over`);
  }
  const s = json as Partial<ClusterState>;
  if (s.generator !== "homelab" || typeof s.topology !== "object" || typeof s.secrets !== "object" || typeof s.steps !== "object") {
    throw new InputError(`${join(dir, STATE_FILE)}: not a cluster state homelab wrote; move it away to start over`);
  }
  return { facts: {}, imagesBefore: {}, phases: {}, ...s } as ClusterState;
}

export async function writeState(dir: string, state: ClusterState): Promise<void> {
  const path = join(dir, STATE_FILE);
  // Made 0600 before the first write: writeFileAtomic keeps an existing file's mode, so the token
  // is never readable by others, not even for a moment.
  await mkdir(dir, { recursive: true });
  await open(path, "wx", 0o600).then((h) => h.close(), (err: NodeJS.ErrnoException) => {
    if (err.code !== "EEXIST") throw err;
  });
  await writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`);
  await chmod(path, 0o600);
}
