/** Element types of array streams, with their typed-array constructors. Names follow numpy. */

export const DTYPES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64'] as const;
export type DType = (typeof DTYPES)[number];

export type TypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

type TypedArrayCtor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

export const TYPED_ARRAY: Record<DType, TypedArrayCtor> = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

export const dtypeSize = (dtype: DType): number => TYPED_ARRAY[dtype].BYTES_PER_ELEMENT;

export const isDType = (value: unknown): value is DType =>
  typeof value === 'string' && (DTYPES as readonly string[]).includes(value);

export const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A typed-array view of `count` elements of `dtype` over `buffer` — never a copy. */
export function viewOf(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, count: number): TypedArray {
  return new TYPED_ARRAY[dtype](buffer, byteOffset, count);
}

export function dtypeOf(array: TypedArray): DType {
  for (const d of DTYPES) if (array instanceof TYPED_ARRAY[d]) return d;
  throw new TypeError('unsupported typed array');
}
