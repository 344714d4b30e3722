import { ringSize } from "./ring-size.js";
import { sringLayout } from "./sring-layout.js";
import type { FieldLayout, StructLayout } from "./struct-layout.js";

/**
 * The layouts of Xen's block protocol (`io/blkif.h`) in both ABIs a backend meets, chosen by the
 * frontend's `protocol` node (`io/protocols.h`): `x86_64-abi` (the native one here) and
 * `x86_32-abi`, where a `uint64_t` is aligned to 4 so `id` sits at 4 instead of 8. Unlike
 * vscsiif these structures have implicit padding, so offsets are given explicitly; the C probes
 * (`test/xen/xen-headers-probe.test.ts` for x86_64, `test/blkif/abi-x86-32-probe.test.ts` with
 * `gcc -m32`) check every one.
 */

const HEADER = "xen/io/blkif.h";

type Member<F extends string> = readonly [F, number, number, string];

/** A layout from `[name, offset, size, C type]` members, checked to lie inside `size`, in order. */
function explicitLayout<const F extends string>(
  spec: Omit<StructLayout<F>, "fields">,
  members: ReadonlyArray<Member<F>>,
): StructLayout<F> {
  const fields = {} as Record<F, FieldLayout>;
  let end = 0;
  for (const [name, offset, size, type] of members) {
    if (offset < end || offset + size > spec.size)
      throw new Error(`layout ${spec.name}: member ${name} at ${offset}+${size} overlaps or overruns`);
    fields[name] = Object.freeze({ offset, size, type });
    end = offset + size;
  }
  return Object.freeze({ ...spec, fields: Object.freeze(fields) });
}

/** `struct blkif_request_segment` (8 bytes, both ABIs: `gref`, `first_sect`, `last_sect`, 2 bytes of tail padding). */
export const blkifRequestSegmentLayout = explicitLayout(
  { name: "blkif_request_segment", cType: "struct blkif_request_segment", header: HEADER, size: 8 },
  [
    ["gref", 0, 4, "grant_ref_t"],
    ["first_sect", 4, 1, "uint8_t"],
    ["last_sect", 5, 1, "uint8_t"],
  ],
);

/** `BLKIF_MAX_SEGMENTS_PER_REQUEST`: segments carried in the request itself. */
const SEGS = 11;

type Abi = "x86_64" | "x86_32";

function requestLayout(abi: Abi) {
  const id = abi === "x86_64" ? 8 : 4;
  return explicitLayout(
    { name: "blkif_request", cType: "struct blkif_request", header: HEADER, size: id + 16 + SEGS * 8 },
    [
      ["operation", 0, 1, "uint8_t"],
      ["nr_segments", 1, 1, "uint8_t"],
      ["handle", 2, 2, "blkif_vdev_t"],
      ["id", id, 8, "uint64_t"],
      ["sector_number", id + 8, 8, "blkif_sector_t"],
      ["seg", id + 16, SEGS * 8, "struct blkif_request_segment[11]"],
    ],
  );
}

function discardLayout(abi: Abi) {
  const id = abi === "x86_64" ? 8 : 4;
  return explicitLayout(
    { name: "blkif_request_discard", cType: "struct blkif_request_discard", header: HEADER, size: id + 24 },
    [
      ["operation", 0, 1, "uint8_t"],
      ["flag", 1, 1, "uint8_t"],
      ["handle", 2, 2, "blkif_vdev_t"],
      ["id", id, 8, "uint64_t"],
      ["sector_number", id + 8, 8, "blkif_sector_t"],
      ["nr_sectors", id + 16, 8, "uint64_t"],
    ],
  );
}

function indirectLayout(abi: Abi) {
  const id = abi === "x86_64" ? 8 : 4;
  // handle u16 at id+16; the grefs are 4-aligned after it; x86_64 pads the tail to 8, i386 adds `pad`.
  const grefs = id + 20;
  const members: Member<string>[] = [
    ["operation", 0, 1, "uint8_t"],
    ["indirect_op", 1, 1, "uint8_t"],
    ["nr_segments", 2, 2, "uint16_t"],
    ["id", id, 8, "uint64_t"],
    ["sector_number", id + 8, 8, "blkif_sector_t"],
    ["handle", id + 16, 2, "blkif_vdev_t"],
    ["indirect_grefs", grefs, 32, "grant_ref_t[8]"],
  ];
  if (abi === "x86_32") members.push(["pad", grefs + 32, 8, "uint64_t"]);
  return explicitLayout(
    { name: "blkif_request_indirect", cType: "struct blkif_request_indirect", header: HEADER, size: 64 },
    members as ReadonlyArray<
      Member<
        "operation" | "indirect_op" | "nr_segments" | "id" | "sector_number" | "handle" | "indirect_grefs"
      >
    >,
  );
}

function responseLayout(abi: Abi) {
  return explicitLayout(
    {
      name: "blkif_response",
      cType: "struct blkif_response",
      header: HEADER,
      size: abi === "x86_64" ? 16 : 12,
    },
    [
      ["id", 0, 8, "uint64_t"],
      ["operation", 8, 1, "uint8_t"],
      ["status", 10, 2, "int16_t"],
    ],
  );
}

/** `struct blkif_request` on x86_64 (112 bytes, `id` at 8). */
export const blkifRequestLayout = requestLayout("x86_64");
/** `struct blkif_request_discard` on x86_64 (32 bytes). */
export const blkifRequestDiscardLayout = discardLayout("x86_64");
/** `struct blkif_request_indirect` on x86_64 (64 bytes). */
export const blkifRequestIndirectLayout = indirectLayout("x86_64");
/** `struct blkif_response` on x86_64 (16 bytes). */
export const blkifResponseLayout = responseLayout("x86_64");
/** `struct blkif_sring` up to `ring[]`. */
export const blkifSringLayout = sringLayout("blkif", HEADER);

/**
 * The same structures as an i386 compiler lays them out (`protocol = "x86_32-abi"`): `id` at 4,
 * the request 108 bytes, the response 12. Probed with `gcc -m32`.
 */
export const blkifX86_32Layouts = Object.freeze({
  request: requestLayout("x86_32"),
  discard: discardLayout("x86_32"),
  indirect: indirectLayout("x86_32"),
  response: responseLayout("x86_32"),
  segment: blkifRequestSegmentLayout,
});

/** `sizeof(union blkif_sring_entry)` on x86_64: the request (112) is the larger member. */
export const BLKIF_ENTRY_SIZE_X86_64 = 112;
/** `sizeof(union blkif_sring_entry)` on x86_32 (108). */
export const BLKIF_ENTRY_SIZE_X86_32 = 108;

/** Entries of a native blkif ring of 1, 2, 4 and 8 pages (`__CONST_RING_SIZE(blkif, n * 4096)`). */
export const blkifRingEntries: Readonly<Record<"1" | "2" | "4" | "8", number>> = Object.freeze({
  "1": ringSize(1 * 4096, BLKIF_ENTRY_SIZE_X86_64),
  "2": ringSize(2 * 4096, BLKIF_ENTRY_SIZE_X86_64),
  "4": ringSize(4 * 4096, BLKIF_ENTRY_SIZE_X86_64),
  "8": ringSize(8 * 4096, BLKIF_ENTRY_SIZE_X86_64),
});
