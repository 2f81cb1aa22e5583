/**
 * A request timeout that follows an exchange's observed latency, the way TCP
 * sets its retransmission timeout (RFC 6298): a smoothed latency plus four
 * times its mean deviation, clamped to [min, max]. A fast exchange gets a
 * tight timeout (a hang is noticed quickly); a slow but healthy one is not
 * timed out by a fixed guess. Each timeout doubles the value (up to max) until
 * a success gives a fresh sample, so a congested exchange is not hammered with
 * requests that cannot finish.
 */
export interface TimeoutBounds {
  initialMs: number;
  minMs: number;
  maxMs: number;
}

export class AdaptiveTimeout {
  private srtt: number | undefined;
  private rttvar = 0;
  private value: number;

  constructor(private readonly bounds: TimeoutBounds) {
    if (!(bounds.minMs > 0 && bounds.minMs <= bounds.maxMs)) {
      throw new RangeError(`timeout bounds: expected 0 < min <= max, got min ${bounds.minMs}, max ${bounds.maxMs}`);
    }
    this.value = this.clamp(bounds.initialMs);
  }

  /** The timeout to use for the next request, ms. */
  get currentMs(): number {
    return this.value;
  }

  /** Smoothed latency, ms (undefined before the first sample). */
  get smoothedMs(): number | undefined {
    return this.srtt;
  }

  /** A request finished (successfully or with an answer) after `latencyMs`. */
  observe(latencyMs: number): void {
    if (!(latencyMs >= 0)) return;
    if (this.srtt === undefined) {
      this.srtt = latencyMs;
      this.rttvar = latencyMs / 2;
    } else {
      // RFC 6298 gains: beta = 1/4 for the deviation, alpha = 1/8 for the mean.
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - latencyMs);
      this.srtt = 0.875 * this.srtt + 0.125 * latencyMs;
    }
    this.value = this.clamp(this.srtt + 4 * this.rttvar);
  }

  /** A request timed out: back off. */
  onTimeout(): void {
    this.value = this.clamp(this.value * 2);
  }

  private clamp(ms: number): number {
    return Math.min(this.bounds.maxMs, Math.max(this.bounds.minMs, Math.round(ms)));
  }
}
