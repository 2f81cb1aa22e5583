/**
 * `ordertail/testing`: a local mock of the exchange REST APIs the collector
 * polls (binance USD-M, bybit v5 on their real paths), with injected latency
 * and faults, so a service that embeds the collector can test its config and
 * failure handling without the internet: ccxt talks to it as to the venue.
 * Shipped on purpose, as undici ships its MockAgent; not used by the engine.
 */
export { MockExchange, type Fault, type FaultRule, type MockOptions, type MockRequest } from './mock-exchange.js';
export { MockFleet } from './mock-fleet.js';
export type { MockInstrument, VenueId } from './venues.js';
