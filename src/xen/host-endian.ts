/**
 * The ring is native-endian shared memory; typed-array views use the host's byte order. Xen's
 * vscsiif runs on little-endian x86 and Arm, and so does every platform Node ships for, but check
 * once rather than corrupt a page silently.
 */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
if (!HOST_IS_LITTLE_ENDIAN) {
  throw new Error("pvscsi requires a little-endian host: ring entries are laid out as Xen's x86/Arm ABI");
}
