import type { GuestScsi, RawRequestFields, RawSegment } from "../midlayer.js";
import { address, fail, HOST_NAMES, hex2, ok } from "./_common.js";
import type { CommandResult } from "./command.js";

/**
 * `vscsiif-send <h:c:t:l> [field=value ...]`: a protocol developer's probe. Builds a request
 * (a TEST UNIT READY unless `cdb=` says otherwise), lets any field of `struct vscsiif_request`
 * be overridden — `act`, `cmd_len`, `sc_data_direction`, `nr_segments`, `ref_rqid`,
 * `timeout_per_command`, `rqid`, `seg<i>=gref:offset:length` — puts it on the ring and prints
 * the raw response. `--overflow=N` instead pushes `req_prod` N slots past what was produced
 * (a hostile frontend) and notifies the backend.
 */
export async function vscsiifSend(argv: readonly string[], scsi: GuestScsi): Promise<CommandResult> {
  const target = argv[0];
  const dev = address(scsi, target, "vscsiif-send");
  if ("exitCode" in dev) return dev;
  const fields = new Map<string, string>();
  let overflow = 0;
  for (const a of argv.slice(1)) {
    if (a.startsWith("--overflow=")) {
      overflow = Number(a.slice(11));
      continue;
    }
    const eq = a.indexOf("=");
    if (eq < 1) return fail(`vscsiif-send: expected field=value, got '${a}'`);
    fields.set(a.slice(0, eq), a.slice(eq + 1));
  }
  if (overflow > 0) {
    const reqProd = dev.host.overflowRequests(overflow);
    if (reqProd === null) return fail("vscsiif-send: the controller is not connected");
    return ok(`req_prod advanced by ${overflow} to ${reqProd} (past the ring); backend notified\n`);
  }
  const num = (k: string) => {
    const v = fields.get(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${k}=${v} is not an unsigned integer`);
    return n;
  };
  const cdbHex = fields.get("cdb") ?? "000000000000";
  if (!/^([0-9a-fA-F]{2}){1,16}$/.test(cdbHex)) return fail("vscsiif-send: cdb= takes 1 to 16 bytes in hex");
  const cdb = Array.from(Buffer.from(cdbHex, "hex"));
  let raw: RawRequestFields;
  try {
    const act = num("act");
    const cmdLen = num("cmd_len");
    const dir = num("sc_data_direction") ?? num("dir");
    const nrSeg = num("nr_segments");
    const ref = num("ref_rqid");
    const timeout = num("timeout_per_command");
    const rqid = num("rqid");
    const segs: RawSegment[] = [];
    for (const [k, v] of fields) {
      const m = /^seg(\d+)$/.exec(k);
      if (!m) continue;
      const parts = v.split(":").map(Number);
      if (parts.length !== 3 || parts.some((x) => !Number.isInteger(x) || x < 0))
        throw new Error(`${k}=${v}: expected gref:offset:length`);
      segs.push({ index: Number(m[1]), gref: parts[0]!, offset: parts[1]!, length: parts[2]! });
    }
    const known = new Set([
      "act",
      "cmd_len",
      "sc_data_direction",
      "dir",
      "nr_segments",
      "ref_rqid",
      "timeout_per_command",
      "rqid",
      "cdb",
    ]);
    for (const k of fields.keys())
      if (!known.has(k) && !/^seg\d+$/.test(k)) throw new Error(`unknown field '${k}'`);
    raw = {
      ...(act !== undefined ? { act } : {}),
      ...(cmdLen !== undefined ? { cmdLen } : {}),
      ...(dir !== undefined ? { scDataDirection: dir } : {}),
      ...(nrSeg !== undefined ? { nrSegments: nrSeg } : {}),
      ...(ref !== undefined ? { refRqid: ref } : {}),
      ...(timeout !== undefined ? { timeoutPerCommand: timeout } : {}),
      ...(rqid !== undefined ? { rqid } : {}),
      segs,
    };
  } catch (e) {
    return fail(`vscsiif-send: ${e instanceof Error ? e.message : e}`);
  }
  const c = await dev.host.sendRaw({ channel: dev.channel, id: dev.id, lun: dev.lun, cdb }, raw);
  const hostError = dev.host.hostError;
  const senseLength = c.sense.length;
  const hostByte = (c.rslt >>> 16) & 0xff;
  return ok(
    `rslt=0x${(c.rslt >>> 0).toString(16).padStart(8, "0")} (host ${hostByte}${HOST_NAMES[hostByte] ? ` ${HOST_NAMES[hostByte]}` : ""}, status 0x${hex2(c.rslt & 0xff)}) ` +
      `sense_len=${senseLength}${senseLength > 0 ? ` sense=${Buffer.from(c.sense).toString("hex")}` : ""} residual_len=${c.residual}\n` +
      (hostError !== null ? `scsifront: host in error state: ${hostError}\n` : ""),
  );
}
