import { type Hctl, parseHctl } from "../../scsi/hctl.js";
import { configError } from "../../xen/errors.js";
import { MAX_DATA_TRANSFER, MAX_IMPORT_EXPORT, MAX_STORAGE, MAX_TRANSPORTS } from "../smc/elements.js";
import { isValidBarcode } from "../ssc/cartridge-library.js";
import { MAX_LUN } from "../target.js";
import { parseSize } from "./config-values.js";
import type {
  ChangerConfig,
  CommonConfig,
  DiskConfig,
  IscsiConfig,
  TapeConfig,
} from "./host-config-types.js";
import type { SectionReader } from "./section-reader.js";

/** A `[tape h:c:t:l]` section: a stand-alone drive (with `load`) or a changer's. */
export function tapeSection(r: SectionReader, common: CommonConfig): TapeConfig {
  const load = r.get("load");
  if (load && !isValidBarcode(load.value))
    throw configError(
      r.at("load"),
      `load must be a barcode (1-32 of A-Z a-z 0-9 _ . -, not only dots), got ${JSON.stringify(load.value)}`,
    );
  const cartridges = r.path("cartridges");
  if (load && cartridges === null) throw configError(r.at("load"), `load needs "cartridges = <directory>"`);
  if (r.get("write-protect") && !load)
    throw configError(r.at("write-protect"), "write-protect applies to the loaded cartridge: add load");
  return {
    kind: "tape",
    ...common,
    ...r.cartridgeDefaults(),
    generation: r.integer("generation", 6, 3, 7),
    cartridges,
    load: load?.value ?? null,
    writeProtect: r.bool("write-protect", false),
    changer: null,
  };
}

/** A list of distinct barcodes (comma or space separated). */
function barcodeList(r: SectionReader, key: string): string[] {
  const v = r.get(key);
  if (!v) return [];
  const items = v.value.split(/[\s,]+/).filter((x) => x !== "");
  for (const b of items) {
    if (!isValidBarcode(b))
      throw configError(
        r.at(key),
        `${JSON.stringify(b)} is not a barcode (1-32 of A-Z a-z 0-9 _ . -, not only dots)`,
      );
  }
  const dup = items.find((b, i) => items.indexOf(b) !== i);
  if (dup) throw configError(r.at(key), `barcode ${dup} is listed twice`);
  return items;
}

/** `drives = h:c:t:l, ...`: the changer's data transfer elements, in order. */
function driveList(r: SectionReader): Hctl[] {
  const drives: Hctl[] = [];
  for (const item of (r.get("drives")?.value ?? "").split(/[\s,]+/).filter((x) => x !== "")) {
    const h = parseHctl(item, MAX_LUN);
    if (!h)
      throw configError(
        r.at("drives"),
        `expected drives = h:c:t:l, ... naming [tape] units, got ${JSON.stringify(item)}`,
      );
    drives.push(h);
  }
  if (drives.length > MAX_DATA_TRANSFER)
    throw configError(r.at("drives"), `at most ${MAX_DATA_TRANSFER} drives`);
  return drives;
}

/** A `[changer h:c:t:l]` section (SMC-3): its elements, cartridges and drives. */
export function changerSection(r: SectionReader, common: CommonConfig): ChangerConfig {
  const cartridges = r.path("cartridges");
  if (cartridges === null) throw configError(r.where, `a changer needs "cartridges = <directory>"`);
  const slots = r.integer("slots", -1, 1, MAX_STORAGE);
  if (slots < 0) throw configError(r.where, `a changer needs "slots = <count>"`);
  const importExport = r.integer("import-export", 0, 0, MAX_IMPORT_EXPORT);
  const transports = r.integer("transports", 1, 1, MAX_TRANSPORTS);
  const barcodes = barcodeList(r, "barcodes");
  if (barcodes.length > slots + importExport)
    throw configError(
      r.at("barcodes"),
      `${barcodes.length} cartridges do not fit in ${slots} slots and ${importExport} import/export elements`,
    );
  const writeProtect = barcodeList(r, "write-protect");
  for (const b of writeProtect) {
    if (!barcodes.includes(b))
      throw configError(r.at("write-protect"), `${b} is not one of this changer's barcodes`);
  }
  const drives = driveList(r);
  return {
    kind: "changer",
    ...common,
    ...r.cartridgeDefaults(),
    cartridges,
    slots,
    importExport,
    transports,
    drives,
    barcodes,
    writeProtect,
  };
}

/** A `[disk h:c:t:l]` section: a RAM disk, or a file-backed one. */
export function diskSection(r: SectionReader, common: CommonConfig): DiskConfig {
  const backing = r.get("backing")?.value ?? (r.get("file") ? "file" : "ram");
  if (backing !== "ram" && backing !== "file") {
    throw configError(r.at("backing"), `backing must be ram or file, got ${JSON.stringify(backing)}`);
  }
  const file = r.path("file");
  if (backing === "file" && file === null)
    throw configError(r.where, `a file-backed disk needs "file = <image path>"`);
  if (backing === "ram" && file !== null)
    throw configError(r.at("file"), `a RAM disk takes no file (set backing = file)`);
  const create = r.bool("create", false);
  if (backing === "ram" && r.get("create"))
    throw configError(r.at("create"), "create applies to file-backed disks only");
  const bsv = r.get("block-size");
  const blockSize = bsv ? Number(bsv.value) : 512;
  if (blockSize !== 512 && blockSize !== 4096) {
    throw configError(
      r.at("block-size"),
      `block-size must be 512 or 4096, got ${JSON.stringify(bsv!.value)}`,
    );
  }
  let size: number | undefined;
  const sv = r.get("size");
  if (sv) {
    size = parseSize(sv.value, r.at("size"));
    if (size % blockSize !== 0) {
      throw configError(r.at("size"), `size ${size} is not a whole number of ${blockSize}-byte blocks`);
    }
  } else if (backing === "ram") {
    throw configError(r.where, `a RAM disk needs "size = <bytes>" (e.g. 64M)`);
  } else if (create) {
    throw configError(r.where, `"create = yes" needs "size = <bytes>" for the new image`);
  }
  return {
    kind: "disk",
    ...common,
    file,
    create,
    size,
    blockSize,
    thin: r.bool("thin", false),
    readOnly: r.bool("read-only", false),
    writeCache: r.bool("write-cache", true),
  };
}

/** An `[iscsi h:c:t:l]` section: `portal`, `target` and `lun` of a remote iSCSI LU. */
export function iscsiSection(r: SectionReader, common: CommonConfig): IscsiConfig {
  const portal = r.get("portal");
  if (!portal) throw configError(r.where, `an iscsi unit needs "portal = <host>:<port>"`);
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(portal.value))
    throw configError(r.at("portal"), `portal must be host[:port], got ${JSON.stringify(portal.value)}`);
  const target = r.get("target");
  if (!target) throw configError(r.where, `an iscsi unit needs "target = <iqn>"`);
  if (!/^(iqn\.\d{4}-\d{2}\.\S+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/.test(target.value))
    throw configError(
      r.at("target"),
      `target must be an iSCSI name (iqn.YYYY-MM.domain[:id]), got ${JSON.stringify(target.value)}`,
    );
  const initiator = r.get("initiator")?.value ?? "iqn.2026-12.org.pvscsi:dom0";
  if (!/^(iqn\.\d{4}-\d{2}\.\S+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/.test(initiator))
    throw configError(r.at("initiator"), `initiator must be an iSCSI name, got ${JSON.stringify(initiator)}`);
  const user = r.get("chap-user")?.value;
  const secret = r.get("chap-secret")?.value;
  const targetUser = r.get("chap-target-user")?.value;
  const targetSecret = r.get("chap-target-secret")?.value;
  if ((user === undefined) !== (secret === undefined))
    throw configError(
      r.at(user === undefined ? "chap-secret" : "chap-user"),
      `CHAP needs both "chap-user" and "chap-secret"`,
    );
  if (targetSecret !== undefined && secret === undefined)
    throw configError(
      r.at("chap-target-secret"),
      `mutual CHAP ("chap-target-secret") needs "chap-user" and "chap-secret" too`,
    );
  if (targetUser !== undefined && targetSecret === undefined)
    throw configError(r.at("chap-target-user"), `"chap-target-user" needs "chap-target-secret"`);
  return {
    kind: "iscsi",
    ...common,
    portal: portal.value,
    target: target.value,
    lun: r.integer("lun", 0, 0, 16383),
    initiator,
    perVhbaInitiator: r.bool("per-vhba-initiator", false),
    ...(user !== undefined && secret !== undefined
      ? {
          chap: {
            username: user,
            secret,
            ...(targetUser !== undefined ? { targetUsername: targetUser } : {}),
            ...(targetSecret !== undefined ? { targetSecret } : {}),
          },
        }
      : {}),
  };
}
