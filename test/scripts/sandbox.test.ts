import { afterEach, describe, expect, it } from "vitest";
import { Sandbox } from "../support/sandbox.js";
import { canRun, familySandbox } from "../support/shipped.js";
import { ALPINE, DEBIAN } from "../support/shims.js";

let sb: Sandbox | undefined;
afterEach(() => sb?.dispose());

// The script tests are only meaningful if the sandbox really isolates and the shims really win.
describe.skipIf(!canRun(ALPINE))("the script sandbox", () => {
  it("runs shims before BusyBox applets and logs their calls", async () => {
    sb = await Sandbox.create({ shims: { modprobe: "echo shimmed" } });
    sb.write("/etc/probe.sh", "modprobe overlay 'two words'\n");
    const r = await sb.exec(["/bb/sh", "/etc/probe.sh"]);
    expect(r.stdout).toBe("shimmed\n");
    expect(sb.calls()).toEqual(["modprobe overlay two words"]);
  });

  it("confines writes to the temporary root and uses BusyBox, not GNU, tools", async () => {
    sb = await Sandbox.create();
    sb.write("/etc/probe.sh", "echo hello >/etc/written; command -v sed; ls /usr/bin\n");
    const r = await sb.exec(["/bb/sh", "/etc/probe.sh"]);
    expect(r.stdout).toBe("/bb/sed\n"); // nothing of the host's /usr/bin
    expect(sb.read("/etc/written")).toBe("hello\n");
  });

  it("runs a command that exits without reading its stdin (no EPIPE escapes as an unhandled error)", async () => {
    sb = await Sandbox.create();
    // 1 MiB is far more than a pipe holds: the write is still going when `true` exits, so it
    // ends in EPIPE. Unhandled, that error fails the whole vitest run, not this test.
    const big = "x".repeat(1 << 20);
    for (let i = 0; i < 5; i++) {
      const r = await sb.exec(["/bb/true"], {}, big);
      expect(r.code).toBe(0);
    }
    // A script that does read it still gets all of it.
    const r = await sb.exec(["/bb/wc", "-c"], {}, big);
    expect(r.stdout.trim()).toBe(String(1 << 20));
  });

  it("plays Alpine with apk and OpenRC, and no systemctl", async () => {
    sb = await familySandbox(ALPINE);
    sb.write("/etc/probe.sh", "for c in sh awk apk rc-update; do command -v $c; done; command -v systemctl || echo 'no systemctl'\n");
    expect((await sb.exec(["/bb/sh", "/etc/probe.sh"])).stdout).toBe("/bb/sh\n/bb/awk\n/shims/apk\n/shims/rc-update\nno systemctl\n");
  });
});

describe.skipIf(!canRun(DEBIAN))("the Debian sandbox", () => {
  it("runs scripts under dash with GNU tools and mawk, apt and systemd, and nothing else of the host", async () => {
    sb = await familySandbox(DEBIAN);
    sb.write("/etc/probe.sh", 'for c in sh awk apt-get systemctl; do command -v $c; done; awk -W version 2>&1 | head -n 1 | cut -c1-4; command -v wget || echo "no wget"; command -v apk || echo "no apk"\n');
    const r = await sb.exec(["/deb/sh", "/etc/probe.sh"]);
    expect(r.stdout).toBe("/deb/sh\n/deb/awk\n/shims/apt-get\n/shims/systemctl\nmawk\nno wget\nno apk\n");
  });
});
