/**
 * Jungfrau raw words: uint16, bits 15–14 the gain code (00 G0, 01 G1,
 * 11 G2, 10 invalid), bits 13–0 the ADC value. Saturation: the word 0xC000
 * in normal gain mode, and the ADC at its maximum (0x3FFF) in G2.
 * Pure kernels: no allocation.
 */
import { PixelFlag } from '../steps/common.js';

export const JF_ADC_MASK = 0x3fff;
export const JF_ADC_MAX = 0x3fff;
export const JF_SATURATED_WORD = 0xc000;
/** gain code (word >>> 14) → stage 0/1/2, or −1 for the invalid code 10 */
export const JF_STAGE_OF_CODE: readonly number[] = [0, 1, -1, 2];

export type GainMode = 'normal' | 'high';

/** Per-pixel flag of a raw word (PixelFlag.OK, INVALID_GAIN or SATURATED). */
export function wordFlag(word: number, mode: GainMode = 'normal'): number {
  const code = word >>> 14;
  if (code === 2) return PixelFlag.INVALID_GAIN;
  if (code === 3 && ((word & JF_ADC_MASK) === JF_ADC_MAX || (mode === 'normal' && word === JF_SATURATED_WORD))) return PixelFlag.SATURATED;
  return PixelFlag.OK;
}

/**
 * Split raw words into gain stage (0, 1, 2; 255 for the invalid code) and
 * ADC value, and flag them (0 ok, 1 invalid gain, 2 saturated). Returns the
 * number of flagged pixels.
 */
export function decodeRaw(raw: Uint16Array, stage: Uint8Array, adc: Uint16Array, flags: Uint8Array, mode: GainMode = 'normal'): number {
  const n = raw.length;
  if (stage.length < n || adc.length < n || flags.length < n) throw new RangeError(`decodeRaw: outputs need ${n} elements`);
  const sat0 = mode === 'normal';
  let bad = 0;
  for (let p = 0; p < n; p++) {
    const w = raw[p];
    const code = w >>> 14;
    const a = w & JF_ADC_MASK;
    adc[p] = a;
    if (code === 2) {
      stage[p] = 255;
      flags[p] = PixelFlag.INVALID_GAIN;
      bad++;
      continue;
    }
    stage[p] = code === 3 ? 2 : code;
    if (code === 3 && (a === JF_ADC_MAX || (sat0 && a === 0))) {
      flags[p] = PixelFlag.SATURATED;
      bad++;
    } else flags[p] = PixelFlag.OK;
  }
  return bad;
}
