import * as hdr from 'hdr-histogram-js';

/**
 * HDR histograms for latencies in microseconds: 1 µs to 1 h at 3 significant
 * digits. WebAssembly-backed where it loads (less GC pressure in long runs),
 * plain JS otherwise; both merge with each other.
 */
let wasm: boolean | undefined;

function wasmAvailable(): boolean {
  if (wasm === undefined) {
    try {
      hdr.initWebAssemblySync();
      wasm = true;
    } catch {
      wasm = false;
    }
  }
  return wasm;
}

export function createLatencyHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    useWebAssembly: wasmAvailable(),
  });
}

/** Compact text form, for shipping a worker's histogram to the main thread. */
export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Add an encoded histogram (from another thread) into `target`. */
export function mergeEncoded(target: hdr.Histogram, encoded: string): void {
  const other = hdr.decodeFromCompressedBase64(encoded, 32, wasmAvailable());
  target.add(other);
  other.destroy();
}
