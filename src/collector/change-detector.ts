/**
 * Remembers, per symbol, the change key (values of the change fields) last sent for one
 * (exchange, type) stream, and decides what to emit: new symbols, changed
 * values, and everything on snapshot cycles. Symbols absent from a complete
 * answer are forgotten (and reported), so a delisted contract does not hold
 * memory and a relisted one is emitted again.
 */
interface Seen {
  values: string;
  /** collectedAt of the first cycle that saw these values. */
  since: number;
  /** Last generation (answer) this symbol was present in. */
  generation: number;
}

export interface Verdict {
  emit: boolean;
  /** When these values were first seen (the dedup id's fallback time). */
  since: number;
}

export class ChangeDetector {
  private readonly seen = new Map<string, Seen>();
  private generation = 0;

  get size(): number {
    return this.seen.size;
  }

  /** Start examining a new answer from the exchange. */
  begin(): void {
    this.generation++;
  }

  observe(symbol: string, values: string, collectedAt: number, snapshot: boolean): Verdict {
    const prev = this.seen.get(symbol);
    if (prev === undefined) {
      this.seen.set(symbol, { values, since: collectedAt, generation: this.generation });
      return { emit: true, since: collectedAt };
    }
    prev.generation = this.generation;
    if (prev.values !== values) {
      prev.values = values;
      prev.since = collectedAt;
      return { emit: true, since: collectedAt };
    }
    return { emit: snapshot, since: prev.since };
  }

  /** After a complete answer: forget symbols it did not contain; returns them. */
  sweep(): string[] {
    const gone: string[] = [];
    for (const [symbol, s] of this.seen) {
      if (s.generation !== this.generation) {
        gone.push(symbol);
        this.seen.delete(symbol);
      }
    }
    return gone;
  }
}
