/**
 * The guest's sg driver: SCSI pass-through to one device, as Linux's `drivers/scsi/sg.c` gives
 * userland an `SG_IO` file descriptor. The tape and changer tools (`mt`, `mtx`, `tar`) and the
 * sg3_utils-like commands issue their CDBs through it.
 */

import { type DecodedSense, decodeSense } from "../scsi/sense.js";
import type { GuestScsiHost, ScsiRequest, ScsiResult } from "../scsifront/scsi-host.js";

/**
 * A SCSI command runner bound to one device: what the guest tools (`mt`, `mtx`, `tar`) are
 * written against, like an open `/dev/sg` or `/dev/nst` file descriptor. The binding decides
 * where the command goes; the `channel`, `id` and `lun` of the request are ignored (tools pass
 * 0). Over the PV path it is {@link bindScsiHost}; in tests or on dom0 `directExec` runs it
 * against a device.
 */
export type ScsiExec = (req: ScsiRequest) => Promise<ScsiResult>;

/** What a tool run produced: its exit code, its output, and the same facts as data. */
export interface ToolResult<T> {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly data: T;
}

/** A request for `cdb` with a data-out buffer or a data-in length (address left to the binding). */
export function request(
  cdb: readonly number[],
  data: { dataOut?: Uint8Array; dataInLength?: number; timeoutSeconds?: number } = {},
): ScsiRequest {
  return { channel: 0, id: 0, lun: 0, cdb, ...data };
}

/** Bind a guest SCSI host to the device at (`channel`, `id`, `lun`). */
export function bindScsiHost(
  host: GuestScsiHost,
  address: { readonly channel: number; readonly id: number; readonly lun: number },
): ScsiExec {
  return (req) => host.execute({ ...req, channel: address.channel, id: address.id, lun: address.lun });
}

/** The decoded sense of a result, or null when there is none (or it cannot be decoded). */
export function senseOf(r: ScsiResult): DecodedSense | null {
  if (r.sense.length < 8) return null;
  try {
    return decodeSense(r.sense, r.sense.length);
  } catch {
    return null;
  }
}

/** "KK/AA/QQ" of a result's sense, or "" without sense. */
export function senseText(r: ScsiResult): string {
  const s = senseOf(r);
  if (!s) return "";
  return [s.key, s.asc, s.ascq].map((v) => v.toString(16).padStart(2, "0").toUpperCase()).join("/");
}

/** The INFORMATION field as the signed 32-bit value tape residues are, or null. */
export function signedInformation(s: DecodedSense | null): number | null {
  if (!s || s.information === null) return null;
  return s.information > 0x7fffffff && s.information <= 0xffffffff
    ? s.information - 0x1_0000_0000
    : s.information;
}
