import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  parseXenbusState,
  XENBUS_STATE_NAMES,
  XenbusState,
  xenbusStateName,
} from "../../src/xenbus/state.js";
import { compileC, GCC, XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";

describe.runIf(requireSystem(XEN_HEADERS, GCC))("XenbusState against io/xenbus.h", () => {
  it("every value and name matches the header compiled by gcc", () => {
    const names = Object.keys(XenbusState);
    const exe = compileC(
      "xenbus-probe",
      `#include <stdio.h>\n#include <xen/io/xenbus.h>\nint main(void)\n{\n${names
        .map((n) => `  printf("%s %d\\n", "${n}", (int)XenbusState${n});`)
        .join("\n")}\n  return 0;\n}\n`,
    );
    const fromC = Object.fromEntries(
      execFileSync(exe, { encoding: "utf8" })
        .trim()
        .split("\n")
        .map((l) => [l.split(" ")[0]!, Number(l.split(" ")[1])]),
    );
    expect(fromC).toEqual({ ...XenbusState });
    for (const [name, value] of Object.entries(XenbusState)) expect(XENBUS_STATE_NAMES[value]).toBe(name);
  });
});

describe("XenbusState names and parsing", () => {
  it("names Unknown 0 to Reconfigured 8, and INVALID past them", () => {
    expect(xenbusStateName(0)).toBe("Unknown");
    expect(xenbusStateName(4)).toBe("Connected");
    expect(xenbusStateName(8)).toBe("Reconfigured");
    expect(xenbusStateName(9)).toBe("INVALID");
  });

  it("parses a state node; missing or junk reads as Unknown", () => {
    expect(parseXenbusState("4")).toBe(XenbusState.Connected);
    expect(parseXenbusState("7\n")).toBe(XenbusState.Reconfiguring);
    for (const junk of [undefined, "", "x", "-1", "9", "4.0", "0x4"]) {
      expect(parseXenbusState(junk), String(junk)).toBe(XenbusState.Unknown);
    }
  });
});
