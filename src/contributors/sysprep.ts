import type { Contributor } from "./contributor.js";
import { addScriptStep } from "./script-step.js";

/** Last step: make the image anonymous (machine-id, host keys) and small (caches, zeroed space). */
export const sysprep: Contributor = {
  name: "sysprep",
  order: 90,
  appliesTo: () => true,
  contribute(bundle, config, context) {
    addScriptStep(bundle, config, context, { step: "sysprep", contributor: "sysprep" });
  },
};
