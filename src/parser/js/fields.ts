/**
 * The configured key and event-time field names, compiled for byte
 * comparison against top-level member names, plus the per-record table of
 * where each field's value was found.
 */
import type { ParseConfig } from '../contract.js';

export class FieldTable {
  /** Key fields first (configured order), then the event-time field. */
  readonly count: number;
  readonly keyCount: number;
  readonly eventIndex: number;
  /** All names concatenated; name i is names[nameAt[i] .. nameAt[i + 1]). */
  private readonly names: Uint8Array;
  private readonly nameAt: Int32Array;
  /**
   * lengthUsed[n] = 1 when some field name is n bytes (names of 255 bytes or
   * more share the last entry): the scanner skips member() for most members
   * with this one load.
   */
  readonly lengthUsed = new Uint8Array(256);
  /** Value span per field for the current record; start -1 = absent. */
  readonly valueStart: Int32Array;
  readonly valueEnd: Int32Array;

  constructor(config: ParseConfig) {
    const all = [...config.keyFields, config.eventTimeField];
    this.count = all.length;
    this.keyCount = config.keyFields.length;
    this.eventIndex = this.keyCount;
    this.nameAt = new Int32Array(all.length + 1);
    let total = 0;
    for (let i = 0; i < all.length; i++) {
      this.nameAt[i] = total;
      total += all[i]!.length;
    }
    this.nameAt[all.length] = total;
    this.names = new Uint8Array(total);
    for (let i = 0; i < all.length; i++) this.names.set(all[i]!, this.nameAt[i]!);
    for (const n of all) this.lengthUsed[Math.min(n.length, 255)] = 1;
    this.valueStart = new Int32Array(all.length).fill(-1);
    this.valueEnd = new Int32Array(all.length);
  }

  reset(): void {
    const vs = this.valueStart;
    for (let i = 0; i < vs.length; i++) vs[i] = -1;
  }

  /**
   * A top-level member: name bytes buf[ns, ne) (between the quotes, raw),
   * value buf[vs, ve). Callers may skip members whose name length
   * lengthUsed rules out. Every matching field takes the span, so a later
   * duplicate member overwrites an earlier one (last occurrence wins) and a
   * name configured both as key and event-time field feeds both.
   */
  member(buf: Uint8Array, ns: number, ne: number, vs: number, ve: number): void {
    const len = ne - ns;
    const names = this.names;
    const at = this.nameAt;
    for (let f = 0; f < this.count; f++) {
      const a = at[f]!;
      if (at[f + 1]! - a !== len) continue;
      let i = 0;
      while (i < len && buf[ns + i] === names[a + i]) i++;
      if (i === len) {
        this.valueStart[f] = vs;
        this.valueEnd[f] = ve;
      }
    }
  }

  /** True when every key field was seen (false when no key fields are configured). */
  allKeysPresent(): boolean {
    if (this.keyCount === 0) return false;
    const vs = this.valueStart;
    for (let f = 0; f < this.keyCount; f++) if (vs[f]! < 0) return false;
    return true;
  }
}
