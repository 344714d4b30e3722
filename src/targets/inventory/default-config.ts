/**
 * dom0's inventory when no host config is given: one host adapter with two RAM disks (512- and
 * 4096-byte blocks, the second thin-provisioned) and an empty CD-ROM drive. RAM chunks are
 * allocated on first write, so the 64 MiB disks cost nothing until used.
 */
export const DEFAULT_HOST_CONFIG = `# pvscsi built-in host config
[host 0]
name = pvscsi

[disk 0:0:0:0]
model = RAMDISK
size = 64M

[disk 0:0:1:0]
model = RAMDISK-4K
size = 64M
block-size = 4096
thin = yes

[cdrom 0:0:2:0]
model = VIRTUAL-CDROM
`;

/** Source name of the built-in config in messages. */
export const DEFAULT_HOST_CONFIG_SOURCE = "<built-in host config>";
