/**
 * The layering rule of pvscsi's source tree, checked by `npm run lint:layers` (part of `npm test`).
 *
 * Folders under src/ are layers, listed bottom to top. A module may import from its own folder and
 * from any folder in a lower layer; never from a higher layer, and never from another folder of
 * the same layer (siblings stay independent). Files whose name starts with `_` are private to
 * their folder. No import cycles anywhere. The README's "Architecture" section draws this list.
 */
const layers = [
  ["xen", "trace"], // page size, domain ids, every Xen struct layout; the trace recorder every core writes to
  ["ring", "grant", "evtchn", "xenstore", "scsi"], // Xen's mechanisms; SCSI's vocabulary
  ["vscsiif", "blkif", "xenbus", "iscsi"], // the PVSCSI and block (VBD) wire protocols; xenbus states over xenstore; iSCSI (sans-IO, needs only SCSI vocabulary)
  // Hypervisor, DomainContext, named ports, a domain kernel's base; checker: protocol checkers
  // that read only shared state (rings, grant tables), for any driver, C (wasm) or TypeScript.
  ["hypervisor", "checker"],
  // A domain whose kernel is a WebAssembly module: its hypercall imports act through a
  // DomainContext (so above hypervisor), and system boots it like a scsifront kernel (so below).
  ["wasm"],
  ["scsifront", "scsiback", "blkfront", "blkback"], // each split driver's two halves (blkback reaches disks as SCSI devices)
  ["targets"], // emulated SCSI devices and dom0's inventory
  ["guest"], // the guest's SCSI midlayer, upper drivers and userland
  ["system"], // one assembly of the machine: threads or a single thread
  ["toolstack"], // xl / libxl logic over a System
  ["testing"], // the in-memory Xen shipped as pvscsi/testing
  ["sim"], // deterministic simulation: drives the cores over testing's in-memory Xen (FakeGuest)
  ["ui"], // the live web view (pvscsi ui): an observer and stepper over the single-thread system
  ["cli"], // the pvscsi command
];

const folder = (names) => `^src/(${names.join("|")})/`;
const forbidden = [
  {
    name: "no-cycles",
    comment: "Import cycles hide which module is the lower one; break them with a small interface.",
    severity: "error",
    from: { path: "^src/" },
    to: { circular: true },
  },
  {
    name: "private-files",
    comment: "A file named _x.ts is private to its folder.",
    severity: "error",
    from: { path: "^src/([^/]+)/" },
    to: { path: "/_[^/]+$", pathNot: "^src/$1/" },
  },
  {
    name: "root-entry-is-top",
    comment: "src/index.ts is the package's curated entry; nothing inside imports it.",
    severity: "error",
    from: { path: "^src/[^/]+/" },
    to: { path: "^src/index\\.ts$" },
  },
];
layers.forEach((layer, i) => {
  const above = layers.slice(i + 1).flat();
  if (above.length > 0) {
    forbidden.push({
      name: `layer-${layer.join("-")}-up`,
      comment: `${layer.join(", ")} may not import a higher layer (${above.join(", ")}).`,
      severity: "error",
      from: { path: folder(layer) },
      to: { path: folder(above) },
    });
  }
  for (const name of layer) {
    const siblings = layer.filter((s) => s !== name);
    if (siblings.length === 0) continue;
    forbidden.push({
      name: `layer-${name}-sideways`,
      comment: `${name} may not import its sibling layers (${siblings.join(", ")}).`,
      severity: "error",
      from: { path: `^src/${name}/` },
      to: { path: folder(siblings) },
    });
  }
});
forbidden.push({
  name: "known-folders",
  comment: "Every folder under src/ is a layer listed in .dependency-cruiser.cjs.",
  severity: "error",
  from: { path: "^src/" },
  to: { path: "^src/[^/]+/", pathNot: folder(layers.flat()) },
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.d\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs"] },
  },
};
