/**
 * Sizes a client sets (npt, npt_azim) bounded by what memory allows, checked at prepare: the
 * bins a frame is integrated into (cheap, in `check`), and the pixel → bin table (its entries
 * counted before anything is allocated, while the receivers build the integrator).
 */
import { totalmem } from 'node:os';
import { DaqError, type FieldError } from '../../protocol/errors.js';
import { Integrator, type IntegratorOptions } from './integrator.js';
import type { PyFAIGeometry } from '../../detectors/geometry/pyfai-geometry.js';
import { maxTableEntries, TableTooLarge } from './table.js';

/** Bytes one output bin costs: the per-bin sums (float64) and their 4 unrolled copies, results, the emitted item. */
export const BIN_BYTES = 160;

/** Most bins one integrator may have: a sixteenth of the machine memory, below 2³¹. */
export function maxBins(totalMemory = totalmem()): number {
  return Math.min(2 ** 31 - 1, Math.floor(totalMemory / 16 / BIN_BYTES));
}

/** The field(s) that set the size: npt, and npt_azim for a cake. */
const sizeFields = (nptAzim: number): string[] => (nptAzim > 0 ? ['npt', 'npt_azim'] : ['npt']);

/** Problems with npt × npt_azim bins (empty when they fit). */
export function binProblems(npt: number, nptAzim: number): FieldError[] {
  const bins = npt * Math.max(1, nptAzim);
  const limit = maxBins();
  if (bins <= limit) return [];
  const what = nptAzim > 0 ? `npt × npt_azim = ${npt} × ${nptAzim} = ${bins} bins` : `npt = ${npt} bins`;
  return sizeFields(nptAzim).map((field) => ({ field, message: `${what} is more than the ${limit} this server's memory allows: ask for fewer bins` }));
}

/**
 * An Integrator whose table fits in memory, or a ParameterError naming npt (and npt_azim): with
 * bbox splitting, a pixel spans many bins when they are narrow, and the table grows with npt.
 */
export function boundedIntegrator(geometry: PyFAIGeometry, options: IntegratorOptions): Integrator {
  try {
    return new Integrator(geometry, { ...options, maxTableEntries: maxTableEntries(totalmem()) });
  } catch (err) {
    if (!(err instanceof TableTooLarge)) throw err;
    const nptAzim = options.nptAzim ?? 0;
    const bins = nptAzim > 0 ? `${options.npt} × ${nptAzim} bins` : `${options.npt} bins`;
    const message =
      `${bins} need a pixel → bin table of ${err.atLeast ? 'more than ' : ''}${err.entries} entries (method ${options.method ?? 'bbox'} splits each pixel over the bins it covers), ` +
      `more than the ${err.limit} this server's memory allows: ask for fewer bins${options.method === 'bbox' ? ", or method 'no'" : ''}`;
    const fields = sizeFields(nptAzim).map((field) => ({ field, message }));
    throw new DaqError('ParameterError', message, fields);
  }
}
