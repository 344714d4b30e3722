import { expect, it } from "vitest";
import {
  parseVscsiDevName,
  vscsiBackendPath,
  vscsiDevPath,
  vscsiFrontendPath,
} from "../../src/xenbus/paths.js";

/** The paths of Xen's `io/vscsiif.h` ("Xenstore format in practice") and SUSE's libxl.pvscsi.patch. */
it("builds PVSCSI's backend, frontend and per-LUN paths", () => {
  const be = vscsiBackendPath(0, 3, 0);
  expect(be).toBe("/local/domain/0/backend/vscsi/3/0");
  expect(vscsiFrontendPath(3, 0)).toBe("/local/domain/3/device/vscsi/0");
  expect(vscsiDevPath(be, 1)).toBe("/local/domain/0/backend/vscsi/3/0/vscsi-devs/dev-1");
  expect(parseVscsiDevName("dev-12")).toBe(12);
  for (const bad of ["dev-", "dev-01", "dev--1", "dev-1x", "lun-1", "dev-99999999999"]) {
    expect(parseVscsiDevName(bad), bad).toBeUndefined();
  }
  expect(() => vscsiBackendPath(-1, 3, 0)).toThrow(/backendDomid/);
  expect(() => vscsiFrontendPath(3, 1.5)).toThrow(/devid/);
});
