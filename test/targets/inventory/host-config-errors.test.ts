import { describe, expect, it } from "vitest";
import { parseHostConfig } from "../../../src/targets/inventory/host-config.js";
import { PvscsiError } from "../../../src/xen/errors.js";

function error(text: string): string {
  try {
    parseHostConfig(text, "/etc/pvscsi/hosts.conf", "/etc/pvscsi");
  } catch (e) {
    expect(e).toBeInstanceOf(PvscsiError);
    expect((e as PvscsiError).code).toBe("ECONFIG");
    return (e as Error).message;
  }
  throw new Error("no error");
}

describe("host config errors name the file, the line and what was expected", () => {
  it.each([
    ["garbage line", "[disk 0:0:0:0]\nsize = 1M\nthis is not ini\n", /hosts\.conf:3: expected "key = value"/],
    ["key outside a section", "size = 1M\n", /hosts\.conf:1: "size" is outside any section/],
    ["unknown section", "\n[tapes 0:0:0:0]\n", /hosts\.conf:2: unknown section kind "tapes"/],
    [
      "tape load without a directory",
      "[tape 1:0:0:0]\nload = A00001L6\n",
      /hosts\.conf:2: load needs "cartridges/,
    ],
    [
      "tape load not a barcode",
      "[tape 1:0:0:0]\ncartridges = t\nload = A*1\n",
      /hosts\.conf:3: load must be a barcode/,
    ],
    [
      "tape generation",
      "[tape 1:0:0:0]\ngeneration = 9\n",
      /hosts\.conf:2: generation must be a whole number from 3 to 7/,
    ],
    [
      "write-protect without load",
      "[tape 1:0:0:0]\nwrite-protect = yes\n",
      /hosts\.conf:2: write-protect applies to the loaded cartridge/,
    ],
    [
      "early warning beyond capacity",
      "[tape 1:0:0:0]\ncapacity = 2M\nearly-warning = 3M\n",
      /hosts\.conf:3: early-warning 3145728 must be smaller than the capacity 2097152/,
    ],
    [
      "changer without a directory",
      "# x\n[changer 1:0:1:0]\nslots = 8\n",
      /hosts\.conf:2: a changer needs "cartridges/,
    ],
    ["changer without slots", "[changer 1:0:1:0]\ncartridges = t\n", /hosts\.conf:1: a changer needs "slots/],
    [
      "changer slots",
      "[changer 1:0:1:0]\ncartridges = t\nslots = 0\n",
      /hosts\.conf:3: slots must be a whole number from 1 to 64536/,
    ],
    [
      "too many cartridges",
      "[changer 1:0:1:0]\ncartridges = t\nslots = 1\nimport-export = 1\nbarcodes = A1, A2, A3\n",
      /hosts\.conf:5: 3 cartridges do not fit in 1 slots and 1 import\/export elements/,
    ],
    [
      "barcode twice",
      "[changer 1:0:1:0]\ncartridges = t\nslots = 4\nbarcodes = A1 A2 A1\n",
      /hosts\.conf:4: barcode A1 is listed twice/,
    ],
    [
      "not a barcode",
      "[changer 1:0:1:0]\ncartridges = t\nslots = 4\nbarcodes = A1, A/2\n",
      /hosts\.conf:4: "A\/2" is not a barcode/,
    ],
    [
      "write-protect of a stranger",
      "[changer 1:0:1:0]\ncartridges = t\nslots = 4\nbarcodes = A1\nwrite-protect = B1\n",
      /hosts\.conf:5: B1 is not one of this changer's barcodes/,
    ],
    [
      "drive that is not a tape",
      "[disk 1:0:0:0]\nsize = 1M\n[changer 1:0:1:0]\ncartridges = t\nslots = 4\ndrives = 1:0:0:0\n",
      /hosts\.conf:6: drive 1:0:0:0 of changer 1:0:1:0 is not a \[tape\] unit of this config/,
    ],
    [
      "drive on another host",
      "[tape 1:0:0:0]\n[changer 0:0:1:0]\ncartridges = t\nslots = 4\ndrives = 1:0:0:0\n",
      /hosts\.conf:5: drive 1:0:0:0 is on host 1, changer 0:0:1:0 on host 0/,
    ],
    [
      "drive of two changers",
      "[tape 0:0:0:0]\n[changer 0:0:1:0]\ncartridges = t\nslots = 4\ndrives = 0:0:0:0\n[changer 0:0:2:0]\ncartridges = u\nslots = 4\ndrives = 0:0:0:0\n",
      /hosts\.conf:9: drive 0:0:0:0 already belongs to changer 0:0:1:0/,
    ],
    [
      "drive of a changer with load",
      "[tape 0:0:0:0]\ncartridges = t\nload = A1\n[changer 0:0:1:0]\ncartridges = t\nslots = 4\ndrives = 0:0:0:0\n",
      /hosts\.conf:3: tape 0:0:0:0 is a drive of changer 0:0:1:0, which loads it: remove load/,
    ],
    [
      "a cartridge in two places",
      "[tape 0:0:0:0]\ncartridges = t\nload = A1\n[changer 0:0:1:0]\ncartridges = t\nslots = 4\nbarcodes = A1\n",
      /hosts\.conf:3: cartridge A1 in \/etc\/pvscsi\/t already belongs to changer 0:0:1:0/,
    ],
    [
      "drives not an address",
      "[changer 0:0:1:0]\ncartridges = t\nslots = 4\ndrives = sda\n",
      /hosts\.conf:4: expected drives = h:c:t:l/,
    ],
    ["bad address", "[disk 0:0:0]\n", /hosts\.conf:1: expected \[disk h:c:t:l\]/],
    ["missing address", "[disk]\n", /hosts\.conf:1: \[disk\] needs an address/],
    ["LUN too large", "[disk 0:0:0:16384]\nsize=1M\n", /hosts\.conf:1: .*LUN 0\.\.16383/],
    [
      "unknown key",
      "[disk 0:0:0:0]\nsize = 1M\ncolour = red\n",
      /hosts\.conf:3: unknown key "colour" in \[disk\]: expected one of/,
    ],
    [
      "duplicate key",
      "[disk 0:0:0:0]\nsize = 1M\nsize = 2M\n",
      /hosts\.conf:3: "size" is set twice .*line 2/,
    ],
    [
      "duplicate address",
      "[null 0:0:0:0]\n[disk 0:0:0:0]\nsize=1M\n",
      /hosts\.conf:2: 0:0:0:0 is declared twice \(first at line 1\)/,
    ],
    ["RAM disk without size", "[disk 0:0:0:0]\nthin = yes\n", /hosts\.conf:1: a RAM disk needs "size/],
    ["bad size", "[disk 0:0:0:0]\nsize = lots\n", /hosts\.conf:2: size must be a number of bytes/],
    [
      "size not whole blocks",
      "[disk 0:0:0:0]\nsize = 1000\n",
      /hosts\.conf:2: size 1000 is not a whole number of 512-byte blocks/,
    ],
    [
      "bad block size",
      "[disk 0:0:0:0]\nsize = 1M\nblock-size = 1024\n",
      /hosts\.conf:3: block-size must be 512 or 4096/,
    ],
    ["bad boolean", "[disk 0:0:0:0]\nsize = 1M\nthin = maybe\n", /hosts\.conf:3: thin must be yes or no/],
    [
      "create without size",
      "[disk 0:0:0:0]\nfile = a.img\ncreate = yes\n",
      /hosts\.conf:1: "create = yes" needs "size/,
    ],
    [
      "file on a RAM disk",
      "[disk 0:0:0:0]\nbacking = ram\nsize = 1M\nfile = a.img\n",
      /hosts\.conf:4: a RAM disk takes no file/,
    ],
    [
      "file backing without file",
      "[disk 0:0:0:0]\nbacking = file\n",
      /hosts\.conf:1: a file-backed disk needs "file/,
    ],
    [
      "vendor too long",
      "[null 0:0:0:0]\nvendor = ABCDEFGHI\n",
      /hosts\.conf:2: vendor must be 1-8 printable ASCII/,
    ],
    ["wwn not hex", "[null 0:0:0:0]\nwwn = 12345\n", /hosts\.conf:2: wwn must be 16 hex digits/],
    [
      "wwn NAA 6",
      "[null 0:0:0:0]\nwwn = 6001405abcdef012\n",
      /hosts\.conf:2: wwn must start with NAA 2, 3 or 5/,
    ],
    [
      "duplicate wwn",
      "[null 0:0:0:0]\nwwn = 3000000000000001\n[null 0:0:0:1]\nwwn = 3000000000000001\n",
      /hosts\.conf:4: wwn 3000000000000001 is already used by 0:0:0:0/,
    ],
    ["target without wwn", "[target 0:0:0]\n", /hosts\.conf:1: \[target 0:0:0\] needs "wwn/],
    ["host twice", "[host 0]\n[host 0]\n", /hosts\.conf:2: host 0 is declared twice/],
    ["bad host name", "[host 0]\nname = a b\n", /hosts\.conf:2: name must be/],
    ["unterminated quote", '[cdrom 0:0:0:0]\nfile = "/a b.iso\n', /hosts\.conf:2: unterminated double quote/],
  ])("%s", (_name, text, pattern) => {
    expect(error(text)).toMatch(pattern);
  });

  it("accepts comments, quotes, inline comments and relative paths", () => {
    const c = parseHostConfig(
      `; a comment
# another
[host 1]
name = hba1   # inline
[disk 1:0:0:0]
file = "images/my disk #1.img"
size = 64M
create = yes
write-cache = off
shareable = true
[cdrom 1:0:1:0]
[target 1:0:0]
wwn = naa.5001122334455667
`,
      "/etc/pvscsi/hosts.conf",
      "/etc/pvscsi",
    );
    expect(c.hosts.get(1)).toBe("hba1");
    expect(c.targetWwns.get("1:0:0")).toBe("5001122334455667");
    const disk = c.devices[0]!;
    expect(disk).toMatchObject({
      kind: "disk",
      file: "/etc/pvscsi/images/my disk #1.img",
      size: 64 << 20,
      create: true,
      writeCache: false,
      shareable: true,
      blockSize: 512,
    });
    expect(c.devices[1]).toMatchObject({ kind: "cdrom", file: null });
  });
});

describe("limits quoted in host-config messages are the limits enforced", () => {
  const disk = (size: string) => parseHostConfig(`[disk 0:0:0:0]\nsize = ${size}\n`, "h.conf");
  it("size: the largest size the message names is accepted, one more is refused", () => {
    let msg = "";
    try {
      disk("8192T");
    } catch (e) {
      msg = (e as Error).message;
    }
    const max = /to (\d+) bytes/.exec(msg)?.[1];
    expect(max).toBe(String(Number.MAX_SAFE_INTEGER));
    expect(msg).toContain("e.g. 8191T");
    expect(() => disk("8191T")).not.toThrow();
    expect(() => disk("7P")).not.toThrow();
    expect(() => disk("8P")).toThrow(/to 9007199254740991 bytes/);
  });
  it("whole-number ranges: both ends the message names are accepted", () => {
    const changer = (slots: string) =>
      parseHostConfig(`[changer 0:0:0:0]\ncartridges = c\nslots = ${slots}\n`, "h.conf", "/tmp");
    let msg = "";
    try {
      changer("0");
    } catch (e) {
      msg = (e as Error).message;
    }
    const [, lo, hi] = /from (\d+) to (\d+)/.exec(msg)!;
    expect(() => changer(lo!)).not.toThrow();
    expect(() => changer(hi!)).not.toThrow();
    expect(() => changer(String(Number(hi) + 1))).toThrow(/from/);
  });
  it("barcodes: the message states every rule isValidBarcode applies", () => {
    expect(() => parseHostConfig(`[tape 0:0:0:0]\ncartridges = c\nload = ...\n`, "h.conf", "/tmp")).toThrow(
      /1-32 of A-Z a-z 0-9 _ \. -, not only dots/,
    );
  });
});
