import { describe, expect, it } from "vitest";
import { parseDomainConfig } from "../../src/toolstack/domain-config.js";

/** Settings pvscsi does not read are reported, not dropped in silence; domain names follow stated rules. */
describe("domain config checks", () => {
  it("warns about an unknown setting with its line and the setting it resembles", () => {
    const spec = parseDomainConfig(
      `name = "g"\nvscsii = [ '/dev/sda,0:0:0:0' ]\nvif = [ '' ]\n`,
      "g.cfg",
      "/",
    );
    expect(spec.vscsi).toEqual([]);
    expect(spec.warnings).toEqual([
      "g.cfg:2: unknown setting 'vscsii' ignored (did you mean 'vscsi'?); known: name, memory, vscsi, disk, driver_domain, scsi_host_config, guest_root, kernel, cmdline, extra",
      "g.cfg:3: 'vif' is an xl.cfg setting pvscsi does not emulate; ignored",
    ]);
  });

  it("reads the guest kernel's command line from cmdline, else from the older extra (as libxl)", () => {
    const both = parseDomainConfig(`name = "g"\ncmdline = "a=1"\nextra = "b=2"\n`, "g.cfg", "/");
    expect(both.cmdline).toBe("a=1");
    expect(both.warnings).toEqual([]);
    expect(parseDomainConfig(`name = "g"\nextra = "b=2"\n`, "g.cfg", "/").cmdline).toBe("b=2");
    expect(parseDomainConfig(`name = "g"\n`, "g.cfg", "/").cmdline).toBeUndefined();
  });

  it("has no warnings for the settings it reads, guest_root included", () => {
    const spec = parseDomainConfig(`name = "g"\nmemory = 16\nvscsi = []\nguest_root = "r"\n`, "g.cfg", "/");
    expect(spec.warnings).toEqual([]);
  });

  it("refuses a numeric name, which xl destroy would read as a domid", () => {
    expect(() => parseDomainConfig(`name = "11"\n`, "g.cfg", "/")).toThrow(
      /g\.cfg:1: invalid domain name "11": 1-64 characters of letters, digits, '_', '\.' and '-', starting with a letter or digit, and not only digits/,
    );
  });

  it("states the rules and echoes at most 40 characters of a bad name", () => {
    const long = "x".repeat(70);
    expect(() => parseDomainConfig(`name = "${long}"\n`, "g.cfg", "/")).toThrow(
      `invalid domain name "${"x".repeat(40)}..." (70 characters): 1-64 characters`,
    );
    expect(() => parseDomainConfig(`name = "-a"\n`, "g.cfg", "/")).toThrow(/starting with a letter or digit/);
    expect(parseDomainConfig(`name = "${"y".repeat(64)}"\n`, "g.cfg", "/").name).toHaveLength(64);
    expect(parseDomainConfig(`name = "11a"\n`, "g.cfg", "/").name).toBe("11a");
  });
});
