import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { MockExchange, type FaultRule, type MockOptions } from './mock-exchange.js';

/**
 * Many mock exchanges in a worker thread of their own. For measurements: a
 * real exchange's CPU is on another machine, so the mocks' JSON encoding must
 * not queue on the collector's event loop and pass for collector overhead.
 *
 *   const fleet = await MockFleet.start(10, { latencyMs: 50 });
 *   fleet.urls[3];  await fleet.inject(3, { fault: { kind: 'hang' } });  await fleet.close();
 */
type Command = { op: 'inject'; index: number; rule: FaultRule } | { op: 'heal'; index: number } | { op: 'close' };
type Reply = { op: 'ready'; urls: string[] } | { op: 'done' };

interface FleetData {
  count: number;
  options: MockOptions;
}

export class MockFleet {
  private constructor(
    private readonly worker: Worker,
    readonly urls: readonly string[],
  ) {}

  static async start(count: number, options: MockOptions = {}): Promise<MockFleet> {
    const data: FleetData = { count, options };
    const worker = new Worker(new URL(import.meta.url), { workerData: data });
    const urls = await new Promise<string[]>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: Reply) => (m.op === 'ready' ? resolve(m.urls) : reject(new Error('mock fleet: unexpected reply'))));
    });
    return new MockFleet(worker, urls);
  }

  inject(index: number, rule: FaultRule): Promise<void> {
    return this.send({ op: 'inject', index, rule });
  }

  heal(index: number): Promise<void> {
    return this.send({ op: 'heal', index });
  }

  async close(): Promise<void> {
    await this.send({ op: 'close' });
    await this.worker.terminate();
  }

  private send(command: Command): Promise<void> {
    return new Promise((resolve) => {
      this.worker.once('message', () => resolve());
      this.worker.postMessage(command);
    });
  }
}

async function serve(port: NonNullable<typeof parentPort>, data: FleetData): Promise<void> {
  const mocks: MockExchange[] = [];
  for (let i = 0; i < data.count; i++) mocks.push(await MockExchange.start(data.options));
  port.on('message', async (command: Command) => {
    if (command.op === 'inject') mocks[command.index]?.inject(command.rule);
    else if (command.op === 'heal') mocks[command.index]?.heal();
    else await Promise.all(mocks.map((m) => m.close()));
    port.postMessage({ op: 'done' } satisfies Reply);
  });
  port.postMessage({ op: 'ready', urls: mocks.map((m) => m.url) } satisfies Reply);
}

if (!isMainThread && parentPort && (workerData as Partial<FleetData> | null)?.count !== undefined) {
  await serve(parentPort, workerData as FleetData);
}
