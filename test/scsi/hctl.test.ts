import { describe, expect, it } from "vitest";
import { formatHctl, parseHct, parseHctl, parseHctlOrThrow, scanHctl } from "../../src/scsi/hctl.js";

describe("h:c:t:l", () => {
  it("parses and formats the same address both ways", () => {
    expect(formatHctl(parseHctl(" 2:0:1:3 ", 16383)!)).toBe("2:0:1:3");
    expect(parseHct("2:0:1")).toEqual({ host: 2, channel: 0, target: 1 });
  });

  it("gives null for the emulated host's limits and a config error naming where and what", () => {
    expect(parseHctl("0:0:0:16384", 16383)).toBeNull();
    expect(parseHctl("65536:0:0:0", 16383)).toBeNull();
    expect(parseHctl("0:0:0", 16383)).toBeNull();
    expect(scanHctl("1:2:3")).toEqual({ kind: "syntax" });
    expect(() => parseHctlOrThrow("1:2", "dom.cfg:3", "vdev")).toThrow(
      "vdev '1:2' is not h:c:t:l (four unsigned integers separated by ':')",
    );
    expect(() => parseHctlOrThrow("0:0:70000:0", "dom.cfg:3", "vdev", { target: 0xffff })).toThrow(
      "vdev '0:0:70000:0': target 70000 is out of range (0..65535)",
    );
  });
});
