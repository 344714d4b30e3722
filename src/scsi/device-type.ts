/**
 * Names of SPC's peripheral device types (SPC-4 §6.4.2, table 141) as Linux prints them in
 * `/proc/scsi/scsi` and the midlayer's attach messages.
 */

/** Linux's `scsi_device_types[]` (drivers/scsi/scsi.c), 17 characters each, as /proc/scsi/scsi prints them. */
const LINUX_DEVICE_TYPES = [
  "Direct-Access    ",
  "Sequential-Access",
  "Printer          ",
  "Processor        ",
  "WORM             ",
  "CD-ROM           ",
  "Scanner          ",
  "Optical Device   ",
  "Medium Changer   ",
  "Communications   ",
  "ASC IT8          ",
  "ASC IT8          ",
  "RAID             ",
  "Enclosure        ",
  "Direct-Access-RBC",
  "Optical card     ",
  "Bridge controller",
  "Object storage   ",
  "Automation/Drive ",
  "Security Manager ",
  "Direct-Access-ZBC",
];

/** Linux's `scsi_device_type()`. */
export function linuxDeviceType(type: number): string {
  if (type === 0x1e) return "Well-known LUN   ";
  if (type === 0x1f) return "No Device        ";
  return LINUX_DEVICE_TYPES[type] ?? "Unknown          ";
}
