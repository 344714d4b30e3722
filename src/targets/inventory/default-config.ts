/**
 * dom0's inventory when no host config is given: the set-up of the PV SCSI patch posted to xen-devel in July 2007 (lists.xensource.com/archives/html/xen-devel/2007-07/msg00450.html)
 * — an LTO tape library passed through for a guest's backups — plus a RAM disk, all on host 0.
 * As on the HP library shown there, the drive is LUN 0 and the changer LUN 1 of one target; the autoloader
 * (HP StorageWorks 1/8 G2: 8 slots, 1 mail slot, 1 robot) holds eight LTO-6 cartridges.
 *
 * Relative paths resolve against the state directory `Inventory.openDefault` passes (see
 * `defaultStateDir`): cartridges are created there on first use and hold only what is written;
 * the RAM disk's chunks are allocated on first write, so nothing costs anything until used.
 */
export const DEFAULT_HOST_CONFIG = `# pvscsi built-in host config
[host 0]
name = pvscsi

[tape 0:0:0:0]
vendor = HP
model = Ultrium 6-SCSI
rev = 35GD
generation = 6

[changer 0:0:0:1]
vendor = HP
model = 1x8 G2 AUTOLDR
rev = 1.70
cartridges = cartridges
slots = 8
import-export = 1
transports = 1
drives = 0:0:0:0
barcodes = A00001L6, A00002L6, A00003L6, A00004L6, A00005L6, A00006L6, A00007L6, A00008L6
capacity = 2500000000000   # LTO-6 native, 2.5 TB

[disk 0:0:1:0]
model = RAMDISK
size = 64M
`;

/** Source name of the built-in config in messages. */
export const DEFAULT_HOST_CONFIG_SOURCE = "<built-in host config>";
