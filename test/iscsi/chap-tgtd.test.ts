import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChapCredentials } from "../../src/iscsi/chap.js";
import { IscsiInitiatorDevice } from "../../src/targets/iscsi-initiator-device.js";
import { requireSystem } from "../_support/system.js";
import { startTgtd, type Tgtd } from "./_tgtd.js";

/**
 * CHAP (RFC 7143 §12.1.3) against a real tgtd whose target has an incoming account bound (and,
 * for the mutual case, an outgoing one): the right secret logs in and reads the LU, a wrong or
 * missing secret — or a target that proves the wrong secret — is a login error naming the target.
 */
const have = requireSystem({ pkg: "tgt", program: "tgtd" }, { pkg: "tgt", program: "tgtadm" });
const PORT = 25000 + (process.pid % 2000);
const IQN = "iqn.2026-12.test:tgtd-chap";
let tgtd: Tgtd | undefined;

describe.runIf(have)("CHAP against tgtd", () => {
  beforeAll(async () => {
    tgtd = await startTgtd({
      port: PORT,
      control: 900 + (process.pid % 600),
      iqn: IQN,
      luns: [{ lun: 1, size: 4 * 1024 * 1024 }],
      maxSeconds: 120,
    });
    const t = tgtd;
    await t.tgtadm(
      "--lld",
      "iscsi",
      "--op",
      "new",
      "--mode",
      "account",
      "--user",
      "dom0",
      "--password",
      "dom0-secret-12",
    );
    await t.tgtadm("--lld", "iscsi", "--op", "bind", "--mode", "account", "--tid", "1", "--user", "dom0");
    await t.tgtadm(
      "--lld",
      "iscsi",
      "--op",
      "new",
      "--mode",
      "account",
      "--user",
      "tgt",
      "--password",
      "tgt-secret-123",
    );
    await t.tgtadm(
      "--lld",
      "iscsi",
      "--op",
      "bind",
      "--mode",
      "account",
      "--tid",
      "1",
      "--user",
      "tgt",
      "--outgoing",
    );
  }, 30_000);

  afterAll(async () => {
    await tgtd?.stop();
  });

  const open = (chap?: ChapCredentials) =>
    IscsiInitiatorDevice.open({
      portal: `127.0.0.1:${PORT}`,
      target: IQN,
      lun: 1,
      initiatorName: "iqn.2026-12.org.pvscsi:dom0",
      loginTimeoutMs: 20_000,
      ...(chap ? { chap } : {}),
    });

  it("one-way CHAP with the account's secret logs in and reads the LU", async () => {
    const dev = await open({ username: "dom0", secret: "dom0-secret-12" });
    expect(dev.info.vendor).toBe("IET");
    expect(dev.info.type).toBe(0);
    await dev.close();
  });

  it("mutual CHAP: the target proves it knows its outgoing secret", async () => {
    const dev = await open({
      username: "dom0",
      secret: "dom0-secret-12",
      targetUsername: "tgt",
      targetSecret: "tgt-secret-123",
    });
    expect(dev.info.type).toBe(0);
    await dev.close();
  });

  it("a wrong secret is an authentication failure naming the target", async () => {
    await expect(open({ username: "dom0", secret: "not-the-secret" })).rejects.toThrow(
      new RegExp(`iSCSI login to ${IQN} at 127\\.0\\.0\\.1:${PORT} .*authentication failure`),
    );
  });

  it("no credentials for a target that wants CHAP is refused, naming the target", async () => {
    await expect(open()).rejects.toThrow(
      new RegExp(`iSCSI login to ${IQN} .*0x0201 \\(authentication failure\\)`),
    );
  });

  it("mutual CHAP with the wrong target secret: the target fails to prove itself", async () => {
    await expect(
      open({ username: "dom0", secret: "dom0-secret-12", targetSecret: "some-other-secret" }),
    ).rejects.toThrow(new RegExp(`${IQN} failed mutual CHAP authentication`));
  });

  it("a mutual name other than the one the target answers with is refused", async () => {
    await expect(
      open({
        username: "dom0",
        secret: "dom0-secret-12",
        targetUsername: "nobody",
        targetSecret: "tgt-secret-123",
      }),
    ).rejects.toThrow(/answered mutual CHAP as "tgt", expected "nobody"/);
  });
});
