/**
 * Descriptions of the C structures pvscsi shares with Xen, field by field. They are the single
 * source of truth for three things: the codecs' offsets (each module builds its named offset
 * constants from its layout), `pvscsi abi`, and the C probe in the test suite that checks every
 * offset and size against Xen's own headers compiled by gcc.
 */

/** One member of a C structure. */
export interface FieldLayout {
  /** Byte offset from the start of the structure (C `offsetof`). */
  readonly offset: number;
  /** Size in bytes (C `sizeof` of the member; arrays count whole). */
  readonly size: number;
  /** C type as declared, arrays as `elem[n]` (e.g. `uint8_t[16]`); shown by `pvscsi abi`. */
  readonly type?: string;
}

/** One C structure, named as Xen's headers name it. */
export interface StructLayout<F extends string = string> {
  /** Xen's name for the structure, e.g. `vscsiif_request`. */
  readonly name: string;
  /** The C type to probe, e.g. `struct vscsiif_request`. */
  readonly cType: string;
  /** Header under the include root that declares it, e.g. `xen/io/vscsiif.h`. */
  readonly header: string;
  /** Size in bytes. */
  readonly size: number;
  /**
   * C expression the probe uses for `size` when it is not `sizeof(cType)`; e.g. a shared ring's
   * size is the offset of its variable-length `ring[]`.
   */
  readonly cSize?: string;
  /** Members in declaration order. */
  readonly fields: { readonly [K in F]: FieldLayout };
}

/**
 * Builds a layout from `[name, size, C type]` members laid out back to back, checking that the total is
 * `size`. Every structure pvscsi shares is naturally aligned with no implicit padding, so
 * consecutive offsets are exact; explicit padding members are listed like any other field.
 */
export function packedLayout<const F extends string>(
  spec: Omit<StructLayout<F>, "fields">,
  members: ReadonlyArray<readonly [F, number, string?]>,
): StructLayout<F> {
  const fields = {} as Record<F, FieldLayout>;
  let offset = 0;
  for (const [name, size, type] of members) {
    fields[name] = Object.freeze(type === undefined ? { offset, size } : { offset, size, type });
    offset += size;
  }
  if (spec.cSize === undefined && offset !== spec.size) {
    throw new Error(`layout ${spec.name}: members sum to ${offset} bytes, declared size is ${spec.size}`);
  }
  return Object.freeze({ ...spec, fields: Object.freeze(fields) });
}
