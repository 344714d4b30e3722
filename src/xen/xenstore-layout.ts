import { packedLayout } from "./struct-layout.js";

const HEADER = "xen/io/xs_wire.h";

/** `XENSTORE_RING_SIZE`: bytes in each direction of a domain's xenstore ring. */
export const XENSTORE_RING_SIZE = 1024;

/** `struct xsd_sockmsg` (16 bytes): the header in front of every xenstore message, both ways. */
export const xsdSockmsgLayout = packedLayout(
  { name: "xsd_sockmsg", cType: "struct xsd_sockmsg", header: HEADER, size: 16 },
  [
    ["type", 4, "uint32_t"],
    ["req_id", 4, "uint32_t"],
    ["tx_id", 4, "uint32_t"],
    ["len", 4, "uint32_t"],
  ],
);

/**
 * `struct xenstore_domain_interface` (2076 bytes at the start of the domain's xenstore page): two
 * byte rings with free-running u32 indices, then the feature, connection and error words
 * (docs/misc/xenstore-ring.txt).
 */
export const xenstoreDomainInterfaceLayout = packedLayout(
  {
    name: "xenstore_domain_interface",
    cType: "struct xenstore_domain_interface",
    header: HEADER,
    size: 2076,
  },
  [
    ["req", XENSTORE_RING_SIZE, `char[${XENSTORE_RING_SIZE}]`],
    ["rsp", XENSTORE_RING_SIZE, `char[${XENSTORE_RING_SIZE}]`],
    ["req_cons", 4, "XENSTORE_RING_IDX"],
    ["req_prod", 4, "XENSTORE_RING_IDX"],
    ["rsp_cons", 4, "XENSTORE_RING_IDX"],
    ["rsp_prod", 4, "XENSTORE_RING_IDX"],
    ["server_features", 4, "uint32_t"],
    ["connection", 4, "uint32_t"],
    ["error", 4, "uint32_t"],
  ],
);

const H = xsdSockmsgLayout.fields;
/** Offsets inside a message header. */
export const XSD_TYPE = H.type.offset;
/** Byte offset `XSD_REQ_ID` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XSD_REQ_ID = H.req_id.offset;
/** Byte offset `XSD_TX_ID` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XSD_TX_ID = H.tx_id.offset;
/** Byte offset `XSD_LEN` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XSD_LEN = H.len.offset;
/** `sizeof(struct xsd_sockmsg)`. */
export const XSD_HEADER_SIZE = xsdSockmsgLayout.size;

const I = xenstoreDomainInterfaceLayout.fields;
/** Offsets inside the xenstore page. */
export const XS_RING_REQ = I.req.offset;
/** Byte offset `XS_RING_RSP` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XS_RING_RSP = I.rsp.offset;
/** Byte offset `XS_RING_REQ_CONS` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XS_RING_REQ_CONS = I.req_cons.offset;
/** Byte offset `XS_RING_REQ_PROD` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XS_RING_REQ_PROD = I.req_prod.offset;
/** Byte offset `XS_RING_RSP_CONS` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XS_RING_RSP_CONS = I.rsp_cons.offset;
/** Byte offset `XS_RING_RSP_PROD` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XS_RING_RSP_PROD = I.rsp_prod.offset;
/** Byte offset `XS_RING_SERVER_FEATURES` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XS_RING_SERVER_FEATURES = I.server_features.offset;
/** Byte offset `XS_RING_CONNECTION` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XS_RING_CONNECTION = I.connection.offset;
/** Byte offset `XS_RING_ERROR` derived from the registered xenstore layout (`io/xs_wire.h`). */
export const XS_RING_ERROR = I.error.offset;
