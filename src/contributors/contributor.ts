import type { Config } from "../config/schema.js";
import type { PackerBundle } from "../bundle/bundle.js";

/** Conventional orders: 10 base OS, 25 Kubernetes node, 80 verification, 90 sysprep. */
export interface Contributor {
  /** Stable name, shown in the bundle and in errors. */
  readonly name: string;
  /** Explicit position in the pipeline; two contributors may not share one. */
  readonly order: number;
  appliesTo(config: Config): boolean;
  /** Only adds to the bundle (the bundle refuses to overwrite what is there). */
  contribute(bundle: PackerBundle, config: Config, context: ContributeContext): void;
}

export interface ContributeContext {
  /** The text of a file under assets/ (scripts and templates shipped with homelab). */
  asset(path: string): string;
}
