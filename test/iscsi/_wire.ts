import { directExec } from "../../src/guest/direct.js";
import {
  type InitiatorCommand,
  type InitiatorResult,
  type IscsiInitiatorConfig,
  IscsiInitiatorSession,
} from "../../src/iscsi/initiator.js";
import {
  type IscsiTargetConfig,
  IscsiTargetConnection,
  type TargetCommand,
  type TmfRequest,
} from "../../src/iscsi/target.js";
import type { ScsiDevice } from "../../src/scsi/device.js";

export const TARGET_IQN = "iqn.2026-12.test.pvscsi:disk";

/**
 * An initiator and a target joined by an in-memory wire. Bytes are queued and delivered by
 * `pump`, never re-entrantly, as a socket would. The target runs commands on `device` (the
 * LUN number is ignored; LUN 7 is "absent" and answered 05/25/00).
 */
export class Wire {
  readonly toTarget: Uint8Array[] = [];
  readonly toInitiator: Uint8Array[] = [];
  readonly initiator: IscsiInitiatorSession;
  readonly target: IscsiTargetConnection;
  closedBy: { initiator?: string; target?: string } = {};
  /** Commands the target handed to the device (for assertions). */
  readonly executed: TargetCommand[] = [];
  /** When set, commands are parked here instead of executed (to test aborts). */
  park: TargetCommand[] | null = null;
  tmfs: TmfRequest[] = [];

  constructor(
    device: Pick<ScsiDevice, "submit">,
    icfg: Partial<IscsiInitiatorConfig> = {},
    tcfg: Partial<IscsiTargetConfig> = {},
  ) {
    const exec = directExec(device);
    this.target = new IscsiTargetConnection(
      { targetName: TARGET_IQN, address: "127.0.0.1:3260,1", tsih: 0x100, ...tcfg },
      {
        send: (b) => this.toInitiator.push(b),
        close: (r) => {
          this.closedBy.target = r;
        },
        execute: (cmd) => {
          this.executed.push(cmd);
          if (this.park) {
            this.park.push(cmd);
            return;
          }
          if (cmd.lun === 7) {
            this.target.complete(cmd, {
              status: 2,
              sense: Uint8Array.of(0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x25, 0, 0, 0, 0, 0),
            });
            return;
          }
          void exec(
            cmd.dataOut
              ? { channel: 0, id: 0, lun: 0, cdb: cmd.cdb, dataOut: cmd.dataOut }
              : { channel: 0, id: 0, lun: 0, cdb: cmd.cdb, dataInLength: cmd.inLength },
          ).then((r) =>
            this.target.complete(cmd, {
              status: r.status,
              sense: r.sense,
              data: r.data,
              writeResidual: cmd.dataOut ? r.residual : 0,
            }),
          );
        },
        taskManagement: (req) => {
          this.tmfs.push(req);
          req.respond(0);
        },
      },
    );
    this.initiator = new IscsiInitiatorSession(
      { initiatorName: "iqn.2026-12.test.pvscsi:initiator", targetName: TARGET_IQN, ...icfg },
      {
        send: (b) => this.toTarget.push(b),
        close: (r) => {
          this.closedBy.initiator = r;
        },
      },
    );
  }

  /** Deliver queued bytes both ways until nothing moves (bounded). */
  pump(): void {
    for (let i = 0; i < 100_000; i++) {
      const a = this.toTarget.shift();
      if (a) {
        this.target.receive(a);
        continue;
      }
      const b = this.toInitiator.shift();
      if (b) {
        this.initiator.receive(b);
        continue;
      }
      return;
    }
    throw new Error("wire did not settle");
  }

  /** Pump, letting device promises settle in between, until idle. */
  async settle(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      this.pump();
      await new Promise((r) => setImmediate(r));
      if (this.toTarget.length === 0 && this.toInitiator.length === 0) {
        await new Promise((r) => setImmediate(r));
        if (this.toTarget.length === 0 && this.toInitiator.length === 0) return;
      }
    }
    throw new Error("wire did not settle");
  }

  async login(): Promise<void> {
    this.initiator.start();
    await this.settle();
    if (this.initiator.phase !== "full-feature") throw new Error(`login failed: ${this.initiator.failure}`);
  }

  /** Run one command to completion. */
  async run(cmd: InitiatorCommand): Promise<InitiatorResult> {
    let result: InitiatorResult | undefined;
    this.initiator.command(cmd, (r) => {
      result = r;
    });
    await this.settle();
    if (!result) throw new Error("command did not complete");
    return result;
  }
}
