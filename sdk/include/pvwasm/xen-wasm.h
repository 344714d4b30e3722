/*
 * pvwasm/xen-wasm.h - the wasm32 arch shim for Xen's public headers.
 *
 * Include this first, then Xen's headers unchanged (<xen/io/ring.h>, <xen/io/vscsiif.h>, ...),
 * found with `-idirafter /usr/include` (Debian's libxen-dev). See sdk/README.md for the build line.
 *
 * Why "x86_64": Xen's xen.h knows x86 and Arm only. wasm32 is ILP32 with an 8-byte-aligned
 * uint64_t, so the shared structures lay out as on x86_64 - not as on i386, whose 4-byte-aligned
 * uint64_t and __i386__-only pad fields differ (blkif_request_indirect: 64 bytes on x86_64, 72 with
 * __i386__ on wasm32). test/wasm/abi-probe-wasm32.test.ts checks every shared offset against gcc on
 * x86_64. Fields typed `unsigned long` in the x86_64 headers (xen_ulong_t, xen_pfn_t) are 4 bytes
 * here: no ring structure has one, and the SDK's hypercalls never read one.
 */
#ifndef PVWASM_XEN_WASM_H
#define PVWASM_XEN_WASM_H

#if !defined(__wasm32__)
#error "pvwasm/xen-wasm.h is the wasm32 arch shim: build with clang --target=wasm32"
#endif
#if !defined(__wasm_atomics__)
#error "build with -matomics: without it clang silently drops every fence (xen_mb) on wasm32"
#endif

#include <stddef.h>
#include <stdint.h>

#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00 /* Xen 4.14+: ring.h leaves xen_mb() to us */
#endif

#ifndef __XEN_PUBLIC_XEN_H__
#define __x86_64__ 1
#include <xen/xen.h>
#undef __x86_64__
#endif

/* ring.h's barriers. wasm has one fence (atomic.fence, sequentially consistent). */
#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#define PVWASM_PAGE_SIZE 4096u
#define PVWASM_PAGE_SHIFT 12

/* A frame of the domain's memory is at guest address frame << 12: the C pointer itself. */
static inline void *pv_frame_ptr(uint32_t frame) { return (void *)(uintptr_t)(frame << PVWASM_PAGE_SHIFT); }
static inline uint32_t pv_virt_to_frame(const void *p) { return (uint32_t)((uintptr_t)p >> PVWASM_PAGE_SHIFT); }

#endif
