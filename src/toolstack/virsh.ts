import { formatHctl, type Hctl } from "../scsi/hctl.js";
import type { LsscsiRow } from "../targets/inventory/inventory.js";
import { configError } from "../xen/errors.js";
import { parseDomainConfig } from "./domain-config.js";
import { resolvePdev } from "./pdev.js";
import { parsePdev } from "./vscsi-spec.js";
import { attr, child, childrenNamed, el, parseXml, serializeXml, textOf, type XmlElement } from "./xml.js";

/**
 * libvirt's view of xl's `vscsi` (docs/libvirt.md): `virsh domxml-from-native xen-xl` and
 * `domxml-to-native xen-xl` for the PVSCSI part of a domain.
 *
 * One vscsi entry `pdev,vdev[,feature-host]` is one
 * `<hostdev mode='subsystem' type='scsi'>`:
 * - pdev `h:c:t:l` ↔ `<source><adapter name='scsi_host<h>'/><address bus='<c>' target='<t>'
 *   unit='<l>'/></source>` (libvirt names a host LUN by its SCSI host adapter and address only);
 * - vdev `H:C:T:L` ↔ `<address type='drive' controller='<H>' bus='<C>' target='<T>' unit='<L>'/>`
 *   (the vHOST is the guest's controller);
 * - `feature-host` ↔ `sgio='unfiltered' rawio='yes'` (both or neither: the backend passes the
 *   guest's CDBs to the device unfiltered, which is what both attributes grant);
 * - `<shareable/>` ↔ the sharing rule: the host declares the device `shareable = yes`;
 * - `<readonly/>` ↔ a read-only medium (cd/dvd): pvscsi has no per-assignment read-only flag.
 *
 * A pdev given as `/dev/<name>` or `naa.<wwn>:<lun>` is resolved to its h:c:t:l through the
 * host's inventory, and the form the user wrote is kept in the domain's `<metadata>` (in the
 * {@link PVSCSI_XML_NAMESPACE} namespace, as libvirt lets applications keep their own data), so
 * the round trip gives it back. So are `backend=<domain>` and `munging=<policy>`, which libvirt
 * has no attribute for.
 */
export const PVSCSI_XML_NAMESPACE = "https://github.com/pvscsi/pvscsi/xmlns/vscsi/1";

/** What a conversion produced, and what the user should know about it (said on stderr). */
export interface Converted {
  readonly text: string;
  readonly warnings: readonly string[];
}

/** libvirt's limits for a drive address (domaincommon.rng: driveController/Bus/Target/Unit). */
const DRIVE_LIMITS = { controller: 99, bus: 99, target: 99, unit: 99999 };
/** libvirt's limits for a host SCSI address (scsiaddress: bus 2 digits, target 10, unit 20). */
const SOURCE_BUS_MAX = 99;

/**
 * `virsh domxml-from-native xen-xl`: an xl domain config to libvirt domain XML. `inventory` is
 * the host's SCSI devices (a running `pvscsi up`'s), needed for `/dev` and `naa.` pdevs and for
 * `<shareable/>`/`<readonly/>`; null converts h:c:t:l pdevs only, offline.
 */
export function domxmlFromNative(
  text: string,
  file: string,
  inventory: readonly LsscsiRow[] | null,
): Converted {
  const spec = parseDomainConfig(text, file);
  if (spec.driverDomain)
    throw configError(
      file,
      "a driver domain (driver_domain = 1) runs scsiback; only guests convert to libvirt XML",
    );
  const warnings = [...spec.warnings];
  if (inventory === null)
    warnings.push(
      "no host to ask: <shareable/> and <readonly/> come from the host's devices and are left out",
    );
  const hostdevs: XmlElement[] = [];
  const keep: XmlElement[] = [];
  const ctrlFeature = new Map<number, boolean>();
  for (const { spec: v, where } of spec.vscsi) {
    let hctl: Hctl;
    let row: LsscsiRow | undefined;
    if (v.pdev.kind === "hctl") {
      hctl = v.pdev.hctl;
      if (inventory !== null && v.backend === undefined) {
        row = inventory.find((r) => r.hctl === formatHctl(hctl));
        if (!row) throw configError(where, `pdev '${v.pdevText}' does not exist on the host`);
      }
    } else {
      if (v.backend !== undefined)
        throw configError(
          where,
          `pdev '${v.pdevText}' of driver domain '${v.backend}': libvirt's SCSI hostdev names a LUN by adapter and address only, and only dom0's names can be resolved here; write its h:c:t:l`,
        );
      if (inventory === null)
        throw configError(
          where,
          `pdev '${v.pdevText}': libvirt's SCSI hostdev names a LUN by adapter (scsi_hostN) and address only; resolving ${v.pdev.kind === "devname" ? "a /dev name" : "a WWN"} needs the host (a running 'pvscsi up', --socket), or write the h:c:t:l`,
        );
      row = resolvePdev(inventory, v.pdev, v.pdevText, where).row;
      hctl = hctlOf(row.hctl);
    }
    const vd = v.vdev;
    if (
      vd.host > DRIVE_LIMITS.controller ||
      vd.channel > DRIVE_LIMITS.bus ||
      vd.target > DRIVE_LIMITS.target ||
      vd.lun > DRIVE_LIMITS.unit
    )
      throw configError(
        where,
        `vdev '${formatHctl(vd)}': libvirt's drive address allows controller, bus and target 0-99 and unit 0-99999`,
      );
    if (hctl.channel > SOURCE_BUS_MAX)
      throw configError(where, `pdev '${v.pdevText}': libvirt's SCSI address allows bus 0-99`);
    const prev = ctrlFeature.get(vd.host);
    if (prev !== undefined && prev !== v.featureHost)
      throw configError(where, `different feature-host setting than the other devices of vHOST ${vd.host}`);
    ctrlFeature.set(vd.host, v.featureHost);
    const children: XmlElement[] = [
      el("source", {}, [
        el("adapter", { name: `scsi_host${hctl.host}` }),
        el("address", { bus: hctl.channel, target: hctl.target, unit: hctl.lun }),
      ]),
    ];
    if (row?.type === "cd/dvd") children.push(el("readonly"));
    if (row?.shareable) children.push(el("shareable"));
    children.push(
      el("address", { type: "drive", controller: vd.host, bus: vd.channel, target: vd.target, unit: vd.lun }),
    );
    hostdevs.push(
      el(
        "hostdev",
        {
          mode: "subsystem",
          type: "scsi",
          ...(v.featureHost ? { sgio: "unfiltered", rawio: "yes" } : {}),
        },
        children,
      ),
    );
    if (v.pdevText !== formatHctl(hctl) || v.backend !== undefined || v.munging !== undefined)
      keep.push(
        el("pvscsi:vscsi", {
          vdev: formatHctl(vd),
          pdev: v.pdevText,
          backend: v.backend,
          munging: v.munging,
        }),
      );
  }
  if (spec.guestRoot !== undefined) keep.push(el("pvscsi:guest-root", { path: spec.guestRoot }));
  const kib = spec.memoryMiB * 1024;
  const domain = el("domain", { type: "xen" }, [
    el("name", {}, [spec.name]),
    ...(keep.length > 0
      ? [el("metadata", {}, [el("pvscsi:domain", { "xmlns:pvscsi": PVSCSI_XML_NAMESPACE }, keep)])]
      : []),
    el("memory", { unit: "KiB" }, [String(kib)]),
    el("currentMemory", { unit: "KiB" }, [String(kib)]),
    el("vcpu", { placement: "static" }, ["1"]),
    el("os", {}, [el("type", { arch: "x86_64", machine: "xenpv" }, ["linux"])]),
    el("devices", {}, hostdevs),
  ]);
  return { text: serializeXml(domain), warnings };
}

/**
 * `virsh domxml-to-native xen-xl`: libvirt domain XML to an xl domain config (name, memory,
 * vscsi). `inventory` as for {@link domxmlFromNative}: with it, `<shareable/>` and `<readonly/>`
 * are checked against the host's devices and the kept pdev forms against the address.
 */
export function domxmlToNative(
  text: string,
  file: string,
  inventory: readonly LsscsiRow[] | null,
): Converted {
  const warnings: string[] = [];
  const dom = parseXml(text, file);
  const at = (e: XmlElement) => `${file}:${e.line}`;
  if (dom.name !== "domain") throw configError(at(dom), `the root element is <${dom.name}>, not <domain>`);
  const type = attr(dom, "type");
  if (type !== "xen")
    throw configError(at(dom), `<domain type='${type ?? ""}'> is not a Xen domain (type='xen')`);
  const nameEl = child(dom, "name", file);
  if (!nameEl || textOf(nameEl) === "") throw configError(at(dom), "<domain> has no <name>");
  const name = textOf(nameEl);
  const memEl = child(dom, "memory", file);
  const memoryMiB = memEl ? memoryInMiB(memEl, file) : undefined;
  const kept = new Map<string, XmlElement>();
  let guestRoot: string | undefined;
  const meta = child(dom, "metadata", file);
  for (const m of meta ? childrenNamed(meta, "pvscsi:domain") : []) {
    if (attr(m, "xmlns:pvscsi") !== PVSCSI_XML_NAMESPACE) continue;
    for (const k of childrenNamed(m, "pvscsi:vscsi")) kept.set(attr(k, "vdev") ?? "", k);
    for (const g of childrenNamed(m, "pvscsi:guest-root")) guestRoot = attr(g, "path");
  }
  const entries: string[] = [];
  const ctrlFeature = new Map<number, boolean>();
  const devices = child(dom, "devices", file);
  for (const d of devices?.children ?? []) {
    if (typeof d === "string") continue;
    if (d.name !== "hostdev") {
      warnings.push(`${at(d)}: <${d.name}> has no PVSCSI form; ignored`);
      continue;
    }
    const hdType = attr(d, "type");
    if ((attr(d, "mode") ?? "subsystem") !== "subsystem" || hdType !== "scsi")
      throw configError(
        at(d),
        `<hostdev mode='${attr(d, "mode") ?? "subsystem"}' type='${hdType ?? ""}'> has no vscsi form: xl's vscsi takes mode='subsystem' type='scsi'`,
      );
    const src = child(d, "source", file);
    if (!src) throw configError(at(d), "<hostdev> has no <source>");
    const protocol = attr(src, "protocol") ?? "adapter";
    if (protocol !== "adapter")
      throw configError(
        at(src),
        `<source protocol='${protocol}'> has no vscsi form: a vscsi pdev is a LUN of the host (scsi_host adapter)`,
      );
    const adapter = child(src, "adapter", file);
    const adapterName = adapter ? attr(adapter, "name") : undefined;
    const hm = adapterName === undefined ? null : /^scsi_host(\d{1,9})$/.exec(adapterName);
    if (!adapter || !hm)
      throw configError(
        at(adapter ?? src),
        `<adapter> must name a SCSI host as name='scsi_hostN'${adapterName ? ` (found '${adapterName}')` : ""}`,
      );
    const sa = child(src, "address", file);
    if (!sa) throw configError(at(src), "<source> has no <address bus= target= unit=>");
    const pd: Hctl = {
      host: Number(hm[1]),
      channel: num(sa, "bus", 0xffffffff, file),
      target: num(sa, "target", 0xffffffff, file),
      lun: num(sa, "unit", Number.MAX_SAFE_INTEGER, file),
    };
    const da = childrenNamed(d, "address").find((a) => attr(a, "type") === "drive");
    if (!da)
      throw configError(
        at(d),
        "<hostdev> has no <address type='drive' controller= bus= target= unit=>: it is the guest's vdev",
      );
    const vd: Hctl = {
      host: num(da, "controller", 0xffffffff, file, 0),
      channel: num(da, "bus", 0xffff, file, 0),
      target: num(da, "target", 0xffff, file, 0),
      lun: num(da, "unit", 0xffff, file, 0),
    };
    const sgio = attr(d, "sgio") ?? "filtered";
    const rawio = attr(d, "rawio") ?? "no";
    const featureHost = sgio === "unfiltered" && rawio === "yes";
    if (!featureHost && (sgio === "unfiltered" || rawio === "yes"))
      throw configError(
        at(d),
        `sgio='${sgio}' rawio='${rawio}': vscsi's feature-host passes every CDB through, which is sgio='unfiltered' and rawio='yes' together; give both or neither`,
      );
    const prev = ctrlFeature.get(vd.host);
    if (prev !== undefined && prev !== featureHost)
      throw configError(at(d), `different sgio/rawio than the other hostdevs of controller ${vd.host}`);
    ctrlFeature.set(vd.host, featureHost);
    const hctlText = formatHctl(pd);
    const row = inventory?.find((r) => r.hctl === hctlText);
    const k = kept.get(formatHctl(vd));
    const backend = k ? attr(k, "backend") : undefined;
    const munging = k ? attr(k, "munging") : undefined;
    if (inventory !== null && backend === undefined) {
      if (!row) throw configError(at(src), `the host has no SCSI device ${hctlText}`);
      if (child(d, "shareable", file) && !row.shareable)
        throw configError(
          at(d),
          `<shareable/>: ${hctlText} is not shareable on this host; the sharing rule is the host's (shareable = yes in its config)`,
        );
      if (child(d, "readonly", file) && row.type !== "cd/dvd")
        throw configError(
          at(d),
          `<readonly/>: ${hctlText} is a writable ${row.type}; vscsi has no per-assignment read-only (use read-only = yes in the host config)`,
        );
    } else if (child(d, "shareable", file) || child(d, "readonly", file)) {
      warnings.push(`${at(d)}: <shareable/> and <readonly/> are the host device's properties; not checked`);
    }
    let pdevText = hctlText;
    const keptPdev = k ? attr(k, "pdev") : undefined;
    if (keptPdev !== undefined) {
      const p = parsePdev(keptPdev, at(k!));
      const same =
        p.kind === "hctl"
          ? formatHctl(p.hctl) === hctlText
          : inventory === null || backend !== undefined
            ? true
            : resolvePdev(inventory, p, keptPdev, at(k!)).row.hctl === hctlText;
      if (same) pdevText = keptPdev;
      else
        warnings.push(
          `${at(k!)}: kept pdev '${keptPdev}' is no longer ${hctlText} on this host; using ${hctlText}`,
        );
    }
    entries.push(
      [
        pdevText,
        formatHctl(vd),
        ...(featureHost ? ["feature-host"] : []),
        ...(backend ? [`backend=${backend}`] : []),
        ...(munging ? [`munging=${munging}`] : []),
      ].join(","),
    );
  }
  let out = `name = ${quote(name)}\n`;
  if (memoryMiB !== undefined) out += `memory = ${memoryMiB}\n`;
  if (guestRoot !== undefined) out += `guest_root = ${quote(guestRoot)}\n`;
  if (entries.length > 0) out += `vscsi = [ ${entries.map(quote).join(", ")} ]\n`;
  // What xl create would refuse is refused here, naming the XML file.
  try {
    parseDomainConfig(out, `${file} (as xl config)`, "/");
  } catch (e) {
    throw configError(file, `converts to an xl config xl would refuse: ${(e as Error).message}`);
  }
  return { text: out, warnings };
}

function hctlOf(text: string): Hctl {
  const [host, channel, target, lun] = text.split(":").map(Number) as [number, number, number, number];
  return { host, channel, target, lun };
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** A decimal attribute within [0, max]; `dflt` when absent (else absent is an error). */
function num(e: XmlElement, name: string, max: number, file: string, dflt?: number): number {
  const v = attr(e, name);
  if (v === undefined) {
    if (dflt !== undefined) return dflt;
    throw configError(`${file}:${e.line}`, `<${e.name}> needs ${name}=`);
  }
  if (!/^\d{1,20}$/.test(v) || Number(v) > max)
    throw configError(`${file}:${e.line}`, `<${e.name} ${name}='${v}'> must be a number 0-${max}`);
  return Number(v);
}

const UNITS: Record<string, number> = {
  b: 1,
  bytes: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
};

/** `<memory unit='KiB'>N</memory>` in whole MiB (libvirt's units; KiB by default). */
function memoryInMiB(e: XmlElement, file: string): number {
  const unit = (attr(e, "unit") ?? "KiB").toLowerCase();
  const factor = UNITS[unit];
  const t = textOf(e);
  if (factor === undefined || !/^\d{1,15}$/.test(t))
    throw configError(
      `${file}:${e.line}`,
      `<memory unit='${attr(e, "unit") ?? "KiB"}'>${t}</memory> is not a size libvirt writes`,
    );
  const bytes = Number(t) * factor;
  if (bytes % (1024 * 1024) !== 0)
    throw configError(
      `${file}:${e.line}`,
      `<memory> ${t} ${unit} is not a whole number of MiB, which xl's memory = takes`,
    );
  return bytes / (1024 * 1024);
}
