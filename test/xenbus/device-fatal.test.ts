import { describe, expect, it } from "vitest";
import { deviceFatal, xenbusErrorPath } from "../../src/xenbus/device-state.js";
import { Xenstored } from "../../src/xenstore/xenstored.js";

describe("xenbus_dev_fatal", () => {
  it("records the error where Linux's xenbus_dev_error does, under the driver domain's home", () => {
    expect(xenbusErrorPath("/local/domain/0/backend/vscsi/3/0")).toBe(
      "/local/domain/0/error/backend/vscsi/3/0/error",
    );
    expect(xenbusErrorPath("/local/domain/7/device/vscsi/1")).toBe(
      "/local/domain/7/error/device/vscsi/1/error",
    );
  });

  it("writes '<errno> <message>' there and switches the device to Closing", async () => {
    const xsd = new Xenstored({ schedule: (run) => queueMicrotask(run) });
    const xs = xsd.client(0);
    const dir = "/local/domain/0/backend/vscsi/3/0";
    await xs.write(`${dir}/state`, "2");
    const logged: string[] = [];
    await deviceFatal(xs, dir, "reading /local/domain/3/device/vscsi/0 ring", (...a) =>
      logged.push(a.join(" ")),
    );
    expect(await xs.read("/local/domain/0/error/backend/vscsi/3/0/error")).toBe(
      "22 reading /local/domain/3/device/vscsi/0 ring",
    );
    expect(await xs.read(`${dir}/state`)).toBe("5");
    expect(logged).toHaveLength(1);
    xs.close();
    xsd.close();
  });
});
