import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { chapResponse, decodeBinary, encodeBinary, md5 } from "../../src/iscsi/chap.js";

/** CHAP's pieces: MD5 against RFC 1321's test suite and Node's, the response formula, binary values. */
describe("CHAP", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const ascii = (s: string) => new TextEncoder().encode(s);

  it("MD5 matches RFC 1321 appendix A.5", () => {
    expect(hex(md5(ascii("")))).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(hex(md5(ascii("abc")))).toBe("900150983cd24fb0d6963f7d28e17f72");
    expect(hex(md5(ascii("message digest")))).toBe("f96b697d7cb7938d525a2f31aaf161d0");
    expect(
      hex(md5(ascii("12345678901234567890123456789012345678901234567890123456789012345678901234567890"))),
    ).toBe("57edf4a22be3c955ac49da2e2107b67a");
  });

  it("MD5 matches node:crypto on every length around the 64-byte block edges", () => {
    for (let n = 0; n < 200; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      expect(hex(md5(b))).toBe(createHash("md5").update(b).digest("hex"));
    }
  });

  it("the response is MD5(id ‖ secret ‖ challenge)", () => {
    const challenge = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 ^ i);
    const want = createHash("md5")
      .update(Uint8Array.of(0x2a))
      .update("s3cr3t-passw0rd")
      .update(challenge)
      .digest("hex");
    expect(hex(chapResponse(0x2a, "s3cr3t-passw0rd", challenge))).toBe(want);
  });

  it("binary values: 0x hex and 0b base64 in, 0x hex out, garbage refused", () => {
    expect(encodeBinary(Uint8Array.of(0, 0xab, 0x10))).toBe("0x00ab10");
    expect([...decodeBinary("0x00AB10")!]).toEqual([0, 0xab, 0x10]);
    expect([...decodeBinary("0xabc")!]).toEqual([0x0a, 0xbc]);
    expect([...decodeBinary("0bAKsQ")!]).toEqual([0, 0xab, 0x10]);
    expect(decodeBinary("abc")).toBeNull();
    expect(decodeBinary("0xzz")).toBeNull();
    expect(decodeBinary("")).toBeNull();
  });
});
