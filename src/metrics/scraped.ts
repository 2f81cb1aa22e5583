/*
 * Prometheus metrics whose values are read from their source when scraped
 * (collect()), so that nothing on the data path touches prom-client. One
 * builder for the engine's, the broadcaster's and the PostgreSQL sink's
 * metrics; it remembers what it registered so it can be removed again.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Label set → value. */
export type Rows = Array<[Record<string, string>, number]>;

export class ScrapedMetrics {
  readonly names: string[] = [];
  private readonly registers: Registry[];

  constructor(private readonly registry: Registry) {
    this.registers = [registry];
  }

  /** A counter whose total is the source's cumulative value (set at each scrape, not incremented). */
  counter(name: string, help: string, read: () => number): void {
    this.names.push(name);
    new Counter({
      name,
      help,
      registers: this.registers,
      collect() {
        this.reset();
        this.inc(nonNegative(read()));
      },
    });
  }

  labelledCounter(name: string, help: string, labelNames: string[], read: () => Rows): void {
    this.names.push(name);
    new Counter({
      name,
      help,
      labelNames,
      registers: this.registers,
      collect() {
        this.reset();
        for (const [labels, v] of read()) this.inc(labels, nonNegative(v));
      },
    });
  }

  gauge(name: string, help: string, read: () => number): void {
    this.labelledGauge(name, help, [], () => [[{}, read()]]);
  }

  labelledGauge(name: string, help: string, labelNames: string[], read: () => Rows): void {
    this.names.push(name);
    new Gauge({
      name,
      help,
      labelNames,
      registers: this.registers,
      collect() {
        this.reset();
        for (const [labels, v] of read()) this.set(labels, v);
      },
    });
  }

  /** Remove every metric registered here (a registry reused after a server closes). */
  unregister(): void {
    for (const name of this.names) this.registry.removeSingleMetric(name);
  }
}

function nonNegative(v: number): number {
  return Number.isFinite(v) && v > 0 ? v : 0;
}
