/**
 * Each guest tool's `--help` text, as the tool it imitates prints its usage (mt-st, mtx, GNU tar
 * and dd, sg3_utils, lsscsi, fio for iobench), limited to the options pvscsi implements. The
 * first line after `Usage:` is the summary `help` lists.
 */
export const USAGES: Readonly<Record<string, { readonly summary: string; readonly usage: string }>> = {
  cat: {
    summary: "print /proc/scsi/scsi",
    usage:
      "Usage: cat /proc/scsi/scsi\nPrint the SCSI devices the guest's kernel knows, as Linux's /proc/scsi/scsi.\n",
  },
  lsblk: {
    summary: "list the guest's Xen virtual disks (xvdX)",
    usage:
      "Usage: lsblk\nList the block devices blkfront added (NAME MAJ:MIN RM SIZE RO TYPE), as util-linux's lsblk.\n",
  },
  fio: {
    summary: "fio's job options over sdX and xvdX (randrw, numjobs, iodepth)",
    usage:
      "Usage: fio --filename=<dev>[:<dev>...] [--rw=read|write|randread|randwrite|randrw] [--rwmixread=50]\n" +
      "           [--bs=4k] [--numjobs=1] [--iodepth=1] [--runtime=2] [--number_ios=N] [--size=N] [--json]\n" +
      "Run numjobs jobs on each device (/dev/sdX through scsifront, /dev/xvdX through blkfront), each\n" +
      "keeping iodepth I/Os of bs in flight (iodepth 1 is psync: QD = numjobs). An I/O larger than the\n" +
      "frontend's maximum transfer goes as several requests at once, as the block layer splits it.\n",
  },
  lsscsi: {
    summary: "list the guest's SCSI devices",
    usage:
      "Usage: lsscsi [-g|--generic]\nList the SCSI devices the guest's scsifront sees.\n" +
      "  -g, --generic   also show each device's sg node (/dev/sgN)\n",
  },
  sg_inq: {
    summary: "standard INQUIRY, unit serial number, device identifiers",
    usage:
      "Usage: sg_inq <device>\nSend INQUIRY and decode the standard data, VPD pages 0x80 (unit serial number)\n" +
      "and 0x83 (device identification).\n  <device>  /dev/sdX, /dev/stN, /dev/sgN, ... or h:c:t:l\n",
  },
  sg_readcap: {
    summary: "capacity and block size",
    usage:
      "Usage: sg_readcap [--16|-l] <device>\nSend READ CAPACITY and print the capacity and block size.\n" +
      "  --16, -l   READ CAPACITY(16) instead of (10)\n",
  },
  sg_luns: {
    summary: "REPORT LUNS",
    usage:
      "Usage: sg_luns [-s N|--select N] <device>\nSend REPORT LUNS and list the logical units.\n" +
      "  -s, --select N   SELECT REPORT field, 0..255 (default 0)\n",
  },
  sg_reset: {
    summary: "reset a logical unit",
    usage: "Usage: sg_reset -d|--device <device>\nReset the logical unit (VSCSIIF_ACT_SCSI_RESET).\n",
  },
  "vscsiif-send": {
    summary: "send a raw vscsiif request (protocol probe)",
    usage:
      "Usage: vscsiif-send <h:c:t:l> [field=value ...] [--overflow=N]\n" +
      "Put one struct vscsiif_request on the ring (TEST UNIT READY unless cdb= says otherwise) and\n" +
      "print the raw response.\n" +
      "  cdb=<hex>  act=N  cmd_len=N  sc_data_direction=N  nr_segments=N  ref_rqid=N\n" +
      "  timeout_per_command=N  rqid=N  seg<i>=gref:offset:length\n" +
      "  --overflow=N   push req_prod N slots past what was produced and notify the backend\n",
  },
  iobench: {
    summary: "fio-like load over the PV path",
    usage:
      "Usage: iobench [options] <device>\nKeep --iodepth READ(10)/WRITE(10) commands in flight and report IOPS and bandwidth.\n" +
      "  --rw=read|write|randread|randwrite   pattern (default read)\n" +
      "  --bs=SIZE       bytes per command, a multiple of 512 (default 4k); suffixes k, m, g\n" +
      "                  (with or without i and B, powers of 1024 as fio's), at most the\n" +
      "                  frontend's maximum transfer\n" +
      "  --iodepth=N     commands in flight, 1..16 (default 16)\n" +
      "  --runtime=SECS  stop after this long (default 2)\n" +
      "  --count=N       stop after N commands\n" +
      "  --lat           also report completion latency percentiles (fio's clat, ns)\n" +
      "  --json          print the result as JSON\n",
  },
  dd: {
    summary: "copy between devices, /dev/zero, /dev/null and patterns",
    usage:
      "Usage: dd [OPERAND]...\nCopy blocks between a SCSI disk and a source or sink; print the records\n" +
      "and the rate. The disk is read and written as with iflag=direct/oflag=direct: a bs\n" +
      "larger than the frontend's maximum transfer is split into several commands.\n" +
      "  if=FILE    read from FILE: a disk, /dev/zero or pattern:<seed> (default pattern:0)\n" +
      "  of=FILE    write to FILE: a disk or /dev/null (default: discard)\n" +
      "  bs=BYTES   block size (default 512); suffixes c w b k K M G, KiB MiB GiB\n" +
      "  count=N    copy N blocks (default 1)\n" +
      "  skip=N     skip N blocks of the input disk\n" +
      "  seek=N     skip N blocks of the output disk\n" +
      "  status=hash  also print 'sha256 <hex>' of the bytes copied (not hashed otherwise)\n" +
      "pattern:<seed> is a fixed byte stream addressed by position: written to a disk, the\n" +
      "bytes at each disk offset are the same however bs, seek and count cut it.\n" +
      "A disk copied past its end stops with 'No space left on device' and exit status 1.\n",
  },
  mt: {
    summary: "magnetic tape control (mt-st)",
    usage:
      "Usage: mt [-v] [--version] [-h] [-f device] command [count]\n" +
      "Commands: status, rewind, fsf N, bsf N, fsr N, bsr N, weof N, eod, erase, load,\n" +
      "unload/offline/eject, setblk N, tell, seek N, lock, unlock, compression N, setdensity N\n" +
      "  -f, -t device   the tape (default: the first tape's /dev/nstN)\n",
  },
  mtx: {
    summary: "medium changer control (mtx)",
    usage:
      "Usage: mtx [-f <loader-dev>] command ...\n" +
      "Commands: status, inquiry, inventory, nobarcode, load <slot> [drive],\n" +
      "unload [slot] [drive], transfer <slot> <slot>\n" +
      "  -f <loader-dev>   the changer (default: the first changer's /dev/schN)\n",
  },
  tar: {
    summary: "archive the guest's files to tape and back (ustar)",
    usage:
      "Usage: tar -c|-x|-t [-v] [-f device] [-C dir] [-b N] [path...]\n" +
      "  -c        create an archive of the paths (default .) at the tape's position\n" +
      "  -x        extract the archive at the position and verify every file's SHA-256\n" +
      "  -t        list the archive's members\n" +
      "  -v        list what is archived or extracted (-tv: long listing)\n" +
      "  -f device the tape (default: the first tape's /dev/nstN)\n" +
      "  -C dir    change to dir in the guest's filesystem first\n" +
      "  -b N      blocking factor: records of N x 512 bytes (default 20)\n",
  },
};
