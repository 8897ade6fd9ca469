/**
 * The memory the server lets one acquisition's processing take: the ceiling every size a client
 * names (correlator depth, queue lengths, ...) is checked against at prepare. A parameter a client
 * sets to limit itself (xpcs max_memory_mb, tomo memory_limit) can only lower it.
 */
import { totalmem } from 'node:os';

/** Half the machine memory: the same ceiling as tomo's reconstructions (tomo/step.ts). */
export const serverMemoryLimit = (): number => totalmem() / 2;

/** A byte count for messages: "1.5 GiB". */
export function fmtBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}
