import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Hypervisor } from "../../src/hypervisor/hypervisor.js";
import { parseDomainConfig } from "../../src/toolstack/domain-config.js";
import { inspectWasmImage } from "../../src/wasm/image.js";
import { wasmDomainBacking } from "../../src/wasm/kernel.js";
import { XEN_HEADERS } from "../_support/cc.js";
import { requireSystem } from "../_support/system.js";
import { buildScsifront, CLANG19, LLD19 } from "../_support/wasm.js";

/** A module by hand: imports env.memory with the given limits, exports a constant i32 global. */
function tinyModule(opts: { shared: boolean; heapBase?: number }): Uint8Array {
  const name = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const imp = [1, ...name("env"), ...name("memory"), 2, opts.shared ? 3 : 1, 1, 16];
  const out = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...section(2, imp)];
  if (opts.heapBase !== undefined) {
    const v = opts.heapBase;
    const leb = [0x80 | (v & 0x7f), 0x80 | ((v >> 7) & 0x7f), (v >> 14) & 0x3f];
    out.push(...section(6, [1, 0x7f, 0, 0x41, ...leb, 0x0b]));
    out.push(...section(7, [1, ...name("__heap_base"), 3, 0]));
  }
  return Uint8Array.from(out);
}

describe("a domain whose memory is a wasm module's", () => {
  it("reads __heap_base and the memory import before instantiating", () => {
    const img = inspectWasmImage(tinyModule({ shared: true, heapBase: 70_000 }));
    expect(img).toMatchObject({
      heapBase: 70_000,
      imageFrames: 18,
      memory: { minPages: 1, maxPages: 16, shared: true },
    });
  });

  it("refuses modules built without the SDK's link flags, naming the flag", () => {
    expect(() => inspectWasmImage(tinyModule({ shared: false, heapBase: 4096 }))).toThrow(/--shared-memory/);
    expect(() => inspectWasmImage(tinyModule({ shared: true }))).toThrow(/--export=__heap_base/);
    expect(() => inspectWasmImage(Uint8Array.from([1, 2, 3, 4]))).toThrow(/a WebAssembly binary/);
  });

  it("the domain's memory is the shared WebAssembly.Memory; the image's frames are never handed out", () => {
    const bytes = tinyModule({ shared: true, heapBase: 70_000 });
    const b = wasmDomainBacking(bytes, 256);
    expect(b.wasmMemory!.buffer.byteLength).toBe(256 * 4096);
    const hv = new Hypervisor();
    const h = hv.createDomain(
      { name: "w", frames: 256 },
      { wasmMemory: b.wasmMemory!, reservedFrames: b.reservedFrames },
    );
    expect(h.memory).toBe(b.wasmMemory!.buffer);
    const ctx = hv.context(h.domid);
    const got: number[] = [];
    for (let f = ctx.frames.alloc(); f >= 0; f = ctx.frames.alloc()) got.push(f);
    expect(got[0]).toBe(18);
    expect(got.length).toBe(256 - 18);
    // A guest address is the C pointer: what the domain writes at frame f is the module's memory there.
    ctx.page(20)[5] = 0xab;
    expect(new Uint8Array(b.wasmMemory!.buffer)[20 * 4096 + 5]).toBe(0xab);
    expect(() => wasmDomainBacking(bytes, 250)).toThrow(/multiple of 16 frames/);
    expect(() => wasmDomainBacking(bytes, 512)).toThrow(/between the module's 1 and 16 wasm pages/);
    expect(() =>
      hv.createDomain({ name: "x", frames: 128 }, { wasmMemory: b.wasmMemory!, reservedFrames: 18 }),
    ).toThrow(/exactly 128 frames/);
  });

  it.runIf(requireSystem(CLANG19, LLD19, XEN_HEADERS))(
    'xl\'s kernel = "x.wasm" is checked at parse time, naming the line',
    () => {
      const dir = mkdtempSync(join(tmpdir(), "pvscsi-wasm-cfg-"));
      writeFileSync(join(dir, "bad.wasm"), tinyModule({ shared: false, heapBase: 4096 }));
      expect(() => parseDomainConfig(`name = "g"\nkernel = "bad.wasm"\n`, join(dir, "g.cfg"))).toThrow(
        /g\.cfg:2: kernel 'bad\.wasm': .*--shared-memory/,
      );
      expect(() => parseDomainConfig(`name = "g"\nkernel = "none.wasm"\n`, join(dir, "g.cfg"))).toThrow(
        /g\.cfg:2: kernel 'none\.wasm' cannot be read: ENOENT/,
      );
      const spec = parseDomainConfig(`name = "g"\nkernel = "${buildScsifront().path}"\n`, join(dir, "g.cfg"));
      expect(spec.wasmKernel?.bytes.length).toBeGreaterThan(1000);
      expect(
        parseDomainConfig(`name = "g"\nkernel = "/boot/vmlinuz"\n`, join(dir, "g.cfg")).warnings,
      ).toEqual([
        expect.stringMatching(
          /g\.cfg:2: 'kernel' runs only WebAssembly modules \(\.wasm\) in pvscsi; ignored/,
        ),
      ]);
    },
  );
});
