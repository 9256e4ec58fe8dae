import { describe, expect, it } from "vitest";
import type { Contributor } from "../../src/contributors/contributor.js";
import { defaultContributors } from "../../src/contributors/index.js";
import { buildBundle, sortContributors } from "../../src/contributors/pipeline.js";
import { InputError } from "../../src/errors.js";
import { config } from "../support/configs.js";

const custom = (name: string, order: number, step = name): Contributor => ({
  name,
  order,
  appliesTo: () => true,
  contribute(bundle) {
    bundle.addProvisioner({ step, contributor: name, type: "shell", options: { inline: [`echo ${name}`] } });
  },
});

describe("contributor pipeline", () => {
  it("runs contributors by order, whatever order they were registered in", () => {
    const bundle = buildBundle(config("k8s: {distribution: k3s}\n"), [
      custom("late-hardening", 85),
      ...defaultContributors().reverse(),
      custom("site-ca-certs", 15),
    ]);
    const steps = bundle.steps();
    expect(steps.indexOf("site-ca-certs")).toBe(steps.indexOf("base-alpine") + 1);
    expect(steps.indexOf("late-hardening")).toBe(steps.indexOf("node-verify") + 1);
    // The boot check (88) boots what the image holds after every change, right before sysprep.
    expect(steps.indexOf("k8s-boot-check")).toBe(steps.indexOf("late-hardening") + 1);
    expect(steps.indexOf("sysprep")).toBe(steps.indexOf("k8s-boot-check") + 1);
  });

  it("refuses two contributors with the same order (a tie is a configuration error)", () => {
    expect(() => sortContributors([...defaultContributors(), custom("mine", 25)])).toThrow(InputError);
    expect(() => sortContributors([...defaultContributors(), custom("mine", 25)])).toThrow(/k8s-node and mine both have order 25/);
  });

  it("skips contributors that do not apply", () => {
    const only3 = { ...custom("kvm-only", 30), appliesTo: () => false };
    expect(buildBundle(config("org: a\n"), [...defaultContributors(), only3]).steps()).not.toContain("kvm-only");
  });

  it("lets a contributor only add: taking an existing step or file fails with the contributor's name", () => {
    expect(() => buildBundle(config("org: a\n"), [...defaultContributors(), custom("impostor", 50, "sysprep")])).toThrow(
      'contributor sysprep (order 90) failed: step "sysprep" is already in the bundle',
    );
  });
});
