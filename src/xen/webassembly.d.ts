/**
 * The part of the WebAssembly JS API pvscsi uses (Node 20 has it; TypeScript declares it only
 * in lib.dom, which a Node library does not load). Shapes as in the WebAssembly JS API spec.
 * Build-time only: no public type names these (a consumer's lib.dom declares them differently),
 * so this file does not ship; public types use {@link WasmMemoryLike} instead.
 */
declare global {
  namespace WebAssembly {
    interface MemoryDescriptor {
      initial: number;
      maximum?: number;
      shared?: boolean;
    }
    class Memory {
      constructor(descriptor: MemoryDescriptor);
      readonly buffer: ArrayBuffer | SharedArrayBuffer;
      grow(delta: number): number;
    }
    class Module {
      constructor(bytes: ArrayBuffer | ArrayBufferView);
    }
    type ExportValue = unknown;
    type Exports = Record<string, ExportValue>;
    type ImportValue = unknown;
    type Imports = Record<string, Record<string, ImportValue>>;
    class Instance {
      constructor(module: Module, importObject?: Imports);
      readonly exports: Exports;
    }
    class RuntimeError extends Error {}
  }
}

export {};
