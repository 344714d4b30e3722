import { describe, expect, it } from "vitest";
import { crc32c } from "../../src/iscsi/crc32c.js";
import { answerKeys, DEFAULT_POLICY, decodeKeys, defaultParams, encodeKeys } from "../../src/iscsi/keys.js";
import {
  cdbOf,
  encodePdu,
  extendedCdbAhs,
  IscsiProtocolError,
  newBhs,
  OP_SCSI_CMD,
  PduReader,
  setU32,
  snLt,
} from "../../src/iscsi/pdu.js";

describe("CRC32C", () => {
  it("has the Castagnoli check value, not zlib's CRC-32", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43); // RFC 3720 B.4: 32 bytes of ones
  });
});

describe("PDU framing", () => {
  const pdu = (dataLen: number, cdbLen = 16) => {
    const bhs = newBhs(OP_SCSI_CMD);
    bhs[1] = 0xa1;
    setU32(bhs, 16, 0x1234);
    const cdb = Array.from({ length: cdbLen }, (_, i) => i + 1);
    for (let i = 0; i < 16; i++) bhs[32 + i] = cdb[i]!;
    const data = Uint8Array.from({ length: dataLen }, (_, i) => i & 0xff);
    return { pdu: { bhs, ahs: extendedCdbAhs(cdb), data }, cdb };
  };

  it("pads the data segment to 4 bytes and records its unpadded length", () => {
    const { pdu: p } = pdu(5);
    const wire = encodePdu(p);
    expect(wire.length).toBe(48 + 8);
    expect([wire[5], wire[6], wire[7]]).toEqual([0, 0, 5]);
    expect([...wire.subarray(53)]).toEqual([0, 0, 0]);
  });

  for (const digests of [
    { header: false, data: false },
    { header: true, data: false },
    { header: true, data: true },
  ]) {
    it(`round-trips byte by byte (digests ${JSON.stringify(digests)}), with a 32-byte CDB in an AHS`, () => {
      const { pdu: p, cdb } = pdu(1001, 32);
      const wire = encodePdu(p, digests);
      const r = new PduReader();
      r.digests = digests;
      let got = null;
      for (let i = 0; i < wire.length; i++) {
        expect(got).toBeNull();
        r.push(wire.subarray(i, i + 1));
        got = r.next();
      }
      expect(got).not.toBeNull();
      expect([...cdbOf(got!)]).toEqual(cdb);
      expect(got!.data).toEqual(p.data);
      expect(got!.bhs[4]).toBe(p.ahs.length / 4);
      expect(r.buffered).toBe(0);
    });
  }

  it("throws IscsiProtocolError on a header or data digest mismatch, and on an oversized segment", () => {
    const { pdu: p } = pdu(100);
    const wire = encodePdu(p, { header: true, data: true });
    for (const at of [3, 49, 60]) {
      const bad = wire.slice();
      bad[at]! ^= 1;
      const r = new PduReader();
      r.digests = { header: true, data: true };
      r.push(bad);
      expect(() => r.next()).toThrow(IscsiProtocolError);
    }
    const r = new PduReader(64);
    r.push(wire);
    expect(() => r.next()).toThrow(/exceeds MaxRecvDataSegmentLength 64/);
  });

  it("compares sequence numbers in serial arithmetic across the wrap", () => {
    expect(snLt(0xfffffffe, 1)).toBe(true);
    expect(snLt(1, 0xfffffffe)).toBe(false);
    expect(snLt(5, 5)).toBe(false);
  });
});

describe("text keys and negotiation", () => {
  it("round-trips keys and rejects items without '='", () => {
    const k: [string, string][] = [
      ["A", "1"],
      ["B", "x=y"],
    ];
    expect(decodeKeys(encodeKeys(k))).toEqual(k);
    expect(() => decodeKeys(new TextEncoder().encode("nokey\0"))).toThrow(/malformed/);
  });

  it("answers libiscsi's offer by each key's result function", () => {
    const offer: [string, string][] = [
      ["InitiatorName", "iqn.x"],
      ["HeaderDigest", "None,CRC32C"],
      ["DataDigest", "CRC32C,None"],
      ["InitialR2T", "No"],
      ["ImmediateData", "Yes"],
      ["MaxBurstLength", "1048576"],
      ["FirstBurstLength", "262144"],
      ["DefaultTime2Wait", "0"],
      ["MaxOutstandingR2T", "4"],
      ["ErrorRecoveryLevel", "2"],
      ["MaxRecvDataSegmentLength", "4096"],
      ["X-com.example.foo", "1"],
      ["MaxBurstLength", "abc"],
    ];
    const params = defaultParams();
    const ans = new Map(answerKeys(offer, DEFAULT_POLICY, params));
    expect(ans.get("HeaderDigest")).toBe("None");
    expect(ans.get("DataDigest")).toBe("CRC32C");
    expect(ans.get("InitialR2T")).toBe("No");
    expect(ans.get("MaxBurstLength")).toBe("Reject"); // the later bad value
    expect(ans.get("FirstBurstLength")).toBe("65536");
    expect(ans.get("DefaultTime2Wait")).toBe("2");
    expect(ans.get("MaxOutstandingR2T")).toBe("1");
    expect(ans.get("ErrorRecoveryLevel")).toBe("0");
    expect(ans.get("X-com.example.foo")).toBe("NotUnderstood");
    expect(ans.has("MaxRecvDataSegmentLength")).toBe(false); // declarative: noted, not answered
    expect(params).toMatchObject({
      dataDigest: true,
      headerDigest: false,
      maxXmitDataSegmentLength: 4096,
      initialR2T: false,
    });
  });
});
