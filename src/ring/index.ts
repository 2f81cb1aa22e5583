export { RingProducer, type RingProducerOptions } from './producer.js';
export { RingConsumer, type SlotVisitor } from './consumer.js';
export { Doorbell, type DoorbellRing, type DoorbellWaitResult } from './doorbell.js';
export { RingStalledError, DoorbellBusyError, type RingStalledDetails } from './errors.js';
export { createRingBuffer, ringByteLength, RING_MAX_CAPACITY } from './layout.js';
