import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { directExec } from "../../src/guest/direct.js";
import { groupPaths, IscsiExport } from "../../src/guest/iscsi-export.js";
import type { GuestScsiDevice } from "../../src/guest/midlayer.js";
import {
  type InitiatorCommand,
  type InitiatorResult,
  IscsiInitiatorSession,
} from "../../src/iscsi/initiator.js";
import { TMF_TARGET_COLD_RESET } from "../../src/iscsi/target.js";
import type { Initiator } from "../../src/scsi/device.js";
import { Disk } from "../../src/targets/sbc/disk.js";

/**
 * The guest export over paths: a LU the guest reaches on several vscsi controllers is one LUN,
 * each iSCSI session is bound to its own path (its own I_T nexus at the device), and a session's
 * end undoes the RESERVE(6) it left. The paths here are stand-ins for guest SCSI hosts that run
 * commands on one emulated disk as distinct initiators (as scsiback's vhosts are).
 */

const IQN = "iqn.2026-12.test.pvscsi:paths";

function disk(serial: string, wwn: string): Disk {
  return Disk.ram(
    {
      type: 0,
      vendor: "PVSCSI",
      product: "PATHS",
      revision: "0001",
      scsiLevel: 6,
      removable: false,
      serial,
      wwn,
    },
    2048,
  );
}

/** A guest path to `d`: host number `hostNo`, commands issued as initiator `hostNo`. */
function path(d: Disk, hostNo: number): GuestScsiDevice {
  const initiator: Initiator = { id: 100 + hostNo, name: `xen-pvscsi:dom1/vhost${hostNo}` };
  d.addNexus(initiator);
  const exec = directExec(d, { initiator });
  const host = {
    hostNo,
    maxTransfer: 1 << 20,
    execute: exec,
    reset: async () => (await d.lunReset(initiator)) === "complete",
  };
  return {
    host,
    channel: 0,
    id: 0,
    lun: 0,
    type: 0,
    removable: false,
    vendor: "PVSCSI",
    model: "PATHS",
    rev: "0001",
    scsiLevel: 6,
    devNode: `/dev/sd${String.fromCharCode(97 + hostNo)}`,
    nonRewindNode: null,
    sgNode: `/dev/sg${hostNo}`,
  } as unknown as GuestScsiDevice;
}

interface Session {
  readonly socket: Socket;
  readonly session: IscsiInitiatorSession;
  run(cmd: InitiatorCommand): Promise<InitiatorResult>;
}

async function login(port: number, name: string): Promise<Session> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  let loggedIn!: () => void;
  const ready = new Promise<void>((r) => {
    loggedIn = r;
  });
  const session = new IscsiInitiatorSession(
    { initiatorName: name, targetName: IQN },
    { send: (b) => socket.write(b), close: () => socket.end(), loggedIn: () => loggedIn() },
  );
  socket.on("data", (d: Buffer) => session.receive(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  socket.on("close", () => session.closed());
  session.start();
  await ready;
  const run = (cmd: InitiatorCommand) =>
    new Promise<InitiatorResult>((resolve) => {
      session.command(cmd, resolve);
    });
  // A new I_T nexus meets 06/29/00 first.
  for (let i = 0; i < 4; i++) {
    const r = await run({ lun: 0, cdb: [0, 0, 0, 0, 0, 0] });
    if (r.status !== 2) break;
  }
  return { socket, session, run };
}

const RESERVE6 = [0x16, 0, 0, 0, 0, 0];
const RELEASE6 = [0x17, 0, 0, 0, 0, 0];
const TUR = [0, 0, 0, 0, 0, 0];
const READ10 = { lun: 0, cdb: [0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0], inLength: 512 };

let exp: IscsiExport | null = null;
afterEach(async () => {
  await exp?.close();
  exp = null;
});

describe("the iSCSI export over several guest paths to one LU", () => {
  it("groupPaths joins devices by their VPD 83h LU designators, keeping order", async () => {
    const a = disk("A", "3000000000000a01");
    const b = disk("B", "3000000000000b02");
    const groups = await groupPaths([path(a, 0), path(b, 1), path(a, 2)]);
    expect(groups.map((g) => g.map((d) => d.host.hostNo))).toEqual([[0, 2], [1]]);
  });

  it("binds each session to its own path: a RESERVE(6) by one conflicts for the other", async () => {
    const d = disk("C", "3000000000000c03");
    exp = new IscsiExport([[path(d, 0), path(d, 1)]], "paths", { iqn: IQN, port: 0 });
    await exp.listen();
    expect(exp.luns[0]!.paths).toHaveLength(2);
    const s1 = await login(exp.port, "iqn.2026-12.test:one");
    const s2 = await login(exp.port, "iqn.2026-12.test:two");
    expect((await s1.run({ lun: 0, cdb: RESERVE6 })).status).toBe(0);
    expect((await s1.run(READ10)).status).toBe(0);
    expect((await s2.run(READ10)).status).toBe(0x18); // RESERVATION CONFLICT
    expect((await s2.run({ lun: 0, cdb: RESERVE6 })).status).toBe(0x18);
    expect((await s1.run({ lun: 0, cdb: RELEASE6 })).status).toBe(0);
    expect((await s2.run({ lun: 0, cdb: RESERVE6 })).status).toBe(0);
    expect((await s2.run({ lun: 0, cdb: RELEASE6 })).status).toBe(0);
    s1.socket.destroy();
    s2.socket.destroy();
  });

  it("a session's end (nexus loss) releases the RESERVE(6) it held; the next command waits for it", async () => {
    const d = disk("D", "3000000000000d04");
    exp = new IscsiExport([[path(d, 0), path(d, 1), path(d, 2)]], "paths", { iqn: IQN, port: 0 });
    await exp.listen();
    const s1 = await login(exp.port, "iqn.2026-12.test:one");
    const s2 = await login(exp.port, "iqn.2026-12.test:two");
    expect((await s1.run({ lun: 0, cdb: RESERVE6 })).status).toBe(0);
    expect((await s2.run({ lun: 0, cdb: TUR })).status).toBe(0x18);
    const closed = once(s1.socket, "close");
    s1.socket.destroy();
    await closed;
    // The export sees the close on its own side; bounded wait for it (no timing assumption).
    for (let i = 0; i < 200 && exp.connections > 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(exp.connections).toBe(1);
    expect((await s2.run({ lun: 0, cdb: RESERVE6 })).status).toBe(0);
    // The returning initiator gets its old path back and meets s2's reservation there.
    const again = await login(exp.port, "iqn.2026-12.test:one");
    expect((await again.run(READ10)).status).toBe(0x18);
    expect((await s2.run({ lun: 0, cdb: RELEASE6 })).status).toBe(0);
    expect((await again.run(READ10)).status).toBe(0);
    again.socket.destroy();
    s2.socket.destroy();
  });

  it("TARGET COLD RESET resets every LU, answers, then ends every session (RFC 7143 §11.5.1)", async () => {
    const d = disk("F", "3000000000000f06");
    exp = new IscsiExport([[path(d, 0), path(d, 1)]], "paths", { iqn: IQN, port: 0 });
    await exp.listen();
    const s1 = await login(exp.port, "iqn.2026-12.test:one");
    const s2 = await login(exp.port, "iqn.2026-12.test:two");
    expect((await s1.run({ lun: 0, cdb: RESERVE6 })).status).toBe(0);
    const closed = Promise.all([once(s1.socket, "close"), once(s2.socket, "close")]);
    const response = await new Promise<number | null>((resolve) => {
      s1.session.taskManagement(TMF_TARGET_COLD_RESET, 0, 0, (r) => resolve(r));
    });
    expect(response).toBe(0);
    await closed;
    // The LU reset (and then the sessions' end) released the RESERVE(6): a new session reserves.
    const s3 = await login(exp.port, "iqn.2026-12.test:three");
    expect((await s3.run({ lun: 0, cdb: RESERVE6 })).status).toBe(0);
    s3.socket.destroy();
  });

  it("sessions beyond the paths share one (and its nexus): the release waits for the last", async () => {
    const d = disk("E", "3000000000000e05");
    exp = new IscsiExport([path(d, 0)], "paths", { iqn: IQN, port: 0 });
    await exp.listen();
    const s1 = await login(exp.port, "iqn.2026-12.test:one");
    const s2 = await login(exp.port, "iqn.2026-12.test:two");
    expect((await s1.run({ lun: 0, cdb: RESERVE6 })).status).toBe(0);
    // Same path, same nexus at the device: s2 is the reservation holder too.
    expect((await s2.run(READ10)).status).toBe(0);
    s1.socket.destroy();
    for (let i = 0; i < 200 && exp.connections > 1; i++) await new Promise((r) => setTimeout(r, 10));
    // A third initiator on another path would conflict: the nexus still holds it (s2 is on it).
    const other = directExec(d, { initiator: { id: 999, name: "other" } });
    d.addNexus({ id: 999, name: "other" });
    await other({ channel: 0, id: 0, lun: 0, cdb: TUR }); // its 06/29/00
    expect((await other({ channel: 0, id: 0, lun: 0, cdb: TUR })).status).toBe(0x18);
    s2.socket.destroy();
    for (let i = 0; i < 200 && exp.connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await s2Released(other)).status).toBe(0);
  });
});

/** Bounded poll until the device no longer reports a conflict to `exec` (the release ran). */
async function s2Released(exec: ReturnType<typeof directExec>) {
  let r = await exec({ channel: 0, id: 0, lun: 0, cdb: TUR });
  for (let i = 0; i < 200 && r.status === 0x18; i++) {
    await new Promise((res) => setTimeout(res, 10));
    r = await exec({ channel: 0, id: 0, lun: 0, cdb: TUR });
  }
  return r;
}
