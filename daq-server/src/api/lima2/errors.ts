/**
 * LIMA2's error payload, as the conductor sends it and lima2-client 4.3 decodes it
 * (lima2/common/exceptions.py: `serialize`, `deserialize`, `by_type`): HTTP 400 with
 * `{code, remote_type, message, payload, trace}`. The client turns `code` back into its
 * exception type and calls it with `message` and `**payload`, so each code's payload keys
 * must be exactly the keyword arguments of that type (Lima2ParamError: where, path, schema).
 * An unknown code becomes a generic Lima2Error carrying `trace`.
 */
import { DaqError } from '../../protocol/index.js';

/** lima2/common/exceptions.py `by_type`: exception type → code. */
export const LIMA2_CODES = {
  Lima2DeviceError: 10,
  Lima2Conflict: 20,
  Lima2BadCommand: 30,
  Lima2BackendError: 40,
  Lima2NotFound: 50,
  Lima2LookupError: 60,
  Lima2ParamError: 70,
  Lima2ValueError: 80,
} as const;

export type Lima2ErrorType = keyof typeof LIMA2_CODES;

export interface Lima2ErrorBody {
  code: number;
  remote_type: string;
  message: string;
  payload: Record<string, unknown>;
  trace: string[];
}

export class Lima2Error extends Error {
  constructor(
    readonly type: Lima2ErrorType,
    message: string,
    /** keyword arguments of the client's exception type (Lima2ParamError: where, path, schema; Lima2DeviceError: device_name) */
    readonly payload: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = type;
  }
}

/** Lima2ParamError: `where` names the parameter set ("control params", ...), `path` the field as a JSON path ($.acq.nb_frames). */
export const paramError = (message: string, where: string, path: string, schema: unknown = {}): Lima2Error =>
  new Lima2Error('Lima2ParamError', message, { where, path, schema: schema ?? {} });

/** daqlab's own errors as the nearest LIMA2 type; anything else is code -1 (the client shows the trace). */
const FROM_DAQLAB: Record<string, Lima2ErrorType> = {
  NotFoundError: 'Lima2NotFound',
  StateError: 'Lima2BadCommand',
  ParameterError: 'Lima2ValueError',
  BusyError: 'Lima2Conflict',
  IndexNotYetThereError: 'Lima2LookupError',
  IndexNoMoreThereError: 'Lima2LookupError',
  IndexWontBeThereError: 'Lima2LookupError',
};

export function toLima2Body(err: unknown): Lima2ErrorBody {
  if (err instanceof Lima2Error) {
    return { code: LIMA2_CODES[err.type], remote_type: err.type, message: err.message, payload: err.payload, trace: [`${err.type}: ${err.message}\n`] };
  }
  if (err instanceof DaqError) {
    const type = FROM_DAQLAB[err.type];
    if (type) return { code: LIMA2_CODES[type], remote_type: type, message: err.message, payload: {}, trace: [`${err.type}: ${err.message}\n`] };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: -1, remote_type: err instanceof Error ? err.name : 'Error', message, payload: {}, trace: [`daqlab: ${message}\n`] };
}
