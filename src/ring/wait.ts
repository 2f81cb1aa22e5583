/**
 * Typed access to `Atomics.waitAsync` (Node ≥ 16). The project compiles against
 * lib ES2023, whose typings predate it; rather than widen the global lib for the
 * whole tree, this module declares the one signature we use.
 */

export type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };

type WaitAsyncFn = (
  typedArray: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => WaitAsyncResult;

const waitAsyncImpl = (Atomics as unknown as { waitAsync?: WaitAsyncFn }).waitAsync;

/** `Atomics.waitAsync`; throws at call time on a runtime without it. */
export function atomicsWaitAsync(
  typedArray: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
): WaitAsyncResult {
  if (waitAsyncImpl === undefined) {
    throw new TypeError('Atomics.waitAsync is not available in this runtime (Node >= 16 needed)');
  }
  return waitAsyncImpl(typedArray, index, value, timeoutMs);
}
