/**
 * The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag — the text
 * between the first `{` and the next `}` when that is not empty, else the
 * whole key — modulo 16384 (the Redis Cluster specification, "Keys hash tags").
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key);
  let from = 0;
  let to = bytes.length;
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) {
      from = open + 1;
      to = close;
    }
  }
  let crc = 0;
  for (let i = from; i < to; i++) {
    crc ^= bytes[i]! << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
