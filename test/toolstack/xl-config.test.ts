import { describe, expect, it } from "vitest";
import { parseVscsiSpec } from "../../src/toolstack/vscsi-spec.js";
import { parseXlConfig, xlString, xlStringList } from "../../src/toolstack/xl-config.js";

describe("xl domain configuration syntax", () => {
  it("parses strings, numbers, multi-line lists with comments and a trailing comma", () => {
    const cfg = parseXlConfig(
      `# a backup server
name = "backup"   # trailing comment
memory = 512; vcpus = 2
vscsi = [ '/dev/st0,0:0:0:0',
          "/dev/sch0,0:0:0:1", # the changer
        ]
`,
      "backup.cfg",
    );
    expect(xlString(cfg, "name", "backup.cfg")).toBe("backup");
    expect(cfg.get("memory")?.value).toEqual({ kind: "number", text: "512", line: 3 });
    expect(cfg.get("vcpus")?.line).toBe(3);
    expect(xlStringList(cfg, "vscsi", "backup.cfg")).toEqual([
      { value: "/dev/st0,0:0:0:0", line: 4 },
      { value: "/dev/sch0,0:0:0:1", line: 5 },
    ]);
  });

  it("handles libxlu's escapes in both quote styles", () => {
    const cfg = parseXlConfig(`a = "x\\"y\\n\\t\\x41\\101\\\\"\nb = 'it\\'s'\n`);
    expect(xlString(cfg, "a", "f")).toBe('x"y\n\tAA\\');
    expect(xlString(cfg, "b", "f")).toBe("it's");
  });

  it("'+=' appends to an earlier list; a later '=' replaces", () => {
    const cfg = parseXlConfig(`vscsi = ['a,0:0:0:0']\nvscsi += ['b,0:0:0:1']\nname = "x"\nname = "y"\n`);
    expect(xlStringList(cfg, "vscsi", "f").map((e) => e.value)).toEqual(["a,0:0:0:0", "b,0:0:0:1"]);
    expect(xlString(cfg, "name", "f")).toBe("y");
  });

  const errors: Array<[string, string, RegExp]> = [
    ["unterminated string", `name = "abc\n`, /^dom\.cfg:1: .*unterminated string/],
    ["missing =", `name "abc"\n`, /dom\.cfg:1: .*expected '=' after 'name'/],
    ["upper-case name", `Name = "x"\n`, /dom\.cfg:1: .*unexpected character "N"/],
    ["list without separator", `vscsi = [ 'a' 'b' ]\n`, /dom\.cfg:1: .*expected ',' or '\]'/],
    ["unclosed list", `vscsi = [ 'a',\n`, /dom\.cfg:2: .*expected a value/],
    ["junk after value", `name = "a" "b"\n`, /dom\.cfg:1: .*expected end of line/],
    ["bad escape", `name = "\\q"\n`, /dom\.cfg:1: .*invalid escape/],
    ["error on a later line", `name = "a"\n\n\nvscsi = [ 1, ]\nx = ?\n`, /dom\.cfg:5:/],
  ];
  for (const [what, text, message] of errors) {
    it(`reports ${what} with file and line`, () => {
      expect(() => parseXlConfig(text, "dom.cfg")).toThrow(message);
    });
  }

  it("type errors name the line of the offending item", () => {
    const cfg = parseXlConfig(`vscsi = [\n 'a,0:0:0:0',\n 7,\n]\nname = [ 'x' ]\n`);
    expect(() => xlStringList(cfg, "vscsi", "d.cfg")).toThrow(
      /^d\.cfg:3: every item of 'vscsi' must be a quoted string/,
    );
    expect(() => xlString(cfg, "name", "d.cfg")).toThrow(/d\.cfg:5: 'name' must be a quoted string/);
  });
});

describe("vscsi entries", () => {
  it("accepts the three pdev forms and feature-host", () => {
    expect(parseVscsiSpec(" /dev/sdb , 0:0:1:0 ", "x")).toEqual({
      pdev: { kind: "devname", name: "sdb" },
      pdevText: "/dev/sdb",
      vdev: { host: 0, channel: 0, target: 1, lun: 0 },
      featureHost: false,
    });
    expect(parseVscsiSpec("2:0:3:1,1:0:0:0,feature-host", "x")).toMatchObject({
      pdev: { kind: "hctl", hctl: { host: 2, channel: 0, target: 3, lun: 1 } },
      featureHost: true,
    });
    expect(parseVscsiSpec("/dev/sda,0:0:0:0,backend=scsidd,feature-host", "x")).toMatchObject({
      featureHost: true,
      backend: "scsidd",
    });
    expect(parseVscsiSpec("naa.60014054AC780582:3,0:0:0:3", "x").pdev).toEqual({
      kind: "wwn",
      wwn: "60014054ac780582",
      lun: 3,
    });
  });

  const bad: Array<[string, RegExp]> = [
    ["/dev/sdb", /is not 'pdev,vdev\[,feature-host\]\[,backend=<domain>\]\[,munging=<policy>\]'/],
    ["/dev/sdb,0:0:0:0,feature-host,backend=dd,munging=raw,x", /is not 'pdev,vdev/],
    ["/dev/sdb,0:0:0:0,feature-host,feature-host", /invalid option 'feature-host'/],
    ["/dev/sdb,0:0:0:0,backend=a,backend=b", /invalid option 'backend=b'/],
    ["/dev/sdb,0:0:0:0,backend=", /backend '' is not a domain name or id/],
    ["/dev/sdb,0:0:0", /vdev '0:0:0' is not h:c:t:l/],
    ["/dev/sdb,0:0:0:x", /vdev '0:0:0:x' is not h:c:t:l/],
    ["/dev/sdb,0:0:70000:0", /vdev '0:0:70000:0': target 70000 is out of range \(0\.\.65535\)/],
    [
      "/dev/sdb,0:0:0:0,raw",
      /invalid option 'raw', expecting feature-host, backend=<domain> or munging=<policy>/,
    ],
    ["naa.1234:0,0:0:0:0", /is not naa\.<16 hex digits>:<lun>/],
    ["sdb,0:0:0:0", /must be \/dev\/<name>, h:c:t:l or naa/],
    ["1:2:3,0:0:0:0", /pdev '1:2:3' is not h:c:t:l/],
  ];
  for (const [text, message] of bad) {
    it(`rejects '${text}'`, () => {
      expect(() => parseVscsiSpec(text, "dom.cfg:4")).toThrow(message);
      expect(() => parseVscsiSpec(text, "dom.cfg:4")).toThrow(/^dom\.cfg:4: /);
    });
  }
});
