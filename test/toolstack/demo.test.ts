import { describe, expect, it } from "vitest";
import { runDemo } from "../../src/toolstack/demo.js";

describe("pvscsi demo", () => {
  it("runs the backup-to-tape scenario end to end and every check passes", async () => {
    const titles: string[] = [];
    const report = await runDemo((s) => titles.push(s.title));
    expect(report.checks).toEqual({
      "disk read-back matches what was written": true,
      "every device Connected (state 4)": true,
      "tar backup written": true,
      "tar verified every file on restore": true,
      "restored tree equals the original": true,
      "/proc/scsi/scsi lists the tape and the changer": true,
      "destroy left nothing behind (grants, mappings, ports)": true,
    });
    expect(titles).toHaveLength(10);
    const proc = report.steps.find((s) => s.title.startsWith("the guest's /proc/scsi/scsi"))!.text;
    expect(proc).toContain("  Type:   Sequential-Access                ANSI  SCSI revision: 05");
    expect(proc).toContain("  Type:   Medium Changer                   ANSI  SCSI revision: 05");
    const [vhost] = report.backend;
    expect(vhost!.stats.requests).toBe(vhost!.stats.responses);
    expect(vhost!.stats.bytesIn).toBeGreaterThan(16 << 20);
    expect(Object.values(vhost!.stats.rejected).every((n) => n === 0)).toBe(true);
  });
});
