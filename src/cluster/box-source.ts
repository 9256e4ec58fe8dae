import { join } from "node:path";
import type { Config } from "../config/schema.js";
import { InputError } from "../errors.js";
import { resolveInside } from "../fs/contain.js";
import { listBuilds } from "../builder/inventory.js";
import { boxName } from "../naming.js";
import { buildBoxName, type BoxSource } from "./vagrantfile.js";

/**
 * The box the nodes run: `cluster.box` from `cluster.registry` when set; else the newest finished
 * build in the work directory of this config's box (its libvirt box, by the build record).
 */
export async function resolveBox(config: Config, workDir: string): Promise<BoxSource> {
  const c = config.cluster;
  if (c?.box !== undefined && c.registry !== undefined) {
    const [name, version] = c.box.split("@") as [string, string];
    return { kind: "registry", name, version, registry: c.registry };
  }
  const wanted = boxName(config);
  const { builds } = await listBuilds(workDir);
  const candidates = builds
    .filter((b) => b.state !== "unfinished" && b.record?.boxName === wanted && b.record.boxes.some((x) => x.provider === "libvirt"))
    .sort((a, b) => b.time - a.time);
  const newest = candidates[0];
  if (newest === undefined || newest.record === undefined) {
    throw new InputError(`no finished libvirt build of ${wanted} in ${join(workDir, "builds")}`, {
      details: ["build the box first, or set cluster.box and cluster.registry to run a published one"],
    });
  }
  const box = newest.record.boxes.find((x) => x.provider === "libvirt")!;
  return { kind: "build", name: buildBoxName(wanted, newest.hash), file: resolveInside(newest.dir, box.file), sha256: box.sha256, buildHash: newest.hash };
}
