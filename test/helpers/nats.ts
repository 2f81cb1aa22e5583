/**
 * Throwaway NATS servers for a test file: `nats-server -js` on 127.0.0.1 at a
 * free port with a temp store directory (Debian's `nats-server` package;
 * .ci/run installs it). `stop()`/`start()` take a server away mid-run (same
 * port, same store: the stream survives), `kill()` is kill -9, `destroy()`
 * removes everything. `TestNatsCluster` is three of them routed into one
 * JetStream cluster on loopback.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll } from 'vitest';

const VERSION = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });

/** Why NATS tests cannot run here (undefined when they can). */
export const NATS_MISSING: string | undefined =
  VERSION.status === 0 ? undefined : 'nats-server not installed (Debian package `nats-server`: apt-get install -y nats-server; .ci/run installs it)';

/** Call first in a test: fails under ORDERTAIL_REQUIRE_TOOLS=1, else skips, when nats-server is missing. */
export function requireNats(ctx: { skip: (note?: string) => void }): void {
  if (NATS_MISSING && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(NATS_MISSING);
  if (NATS_MISSING) ctx.skip(NATS_MISSING);
}

/** The server and client of useTestNats(), read once its beforeAll has run (never when nats-server is missing: tests call requireNats first). */
export interface FileNats {
  readonly server: TestNats;
  readonly client: NatsConnection;
  readonly jsm: JetStreamManager;
}

/**
 * One NATS server for a test file, started before its tests and removed after
 * them, with a client and a JetStream manager of it. Call at the file's top level.
 */
export function useTestNats(): FileNats {
  let server: TestNats | undefined;
  let client: NatsConnection | undefined;
  let jsm: JetStreamManager | undefined;
  beforeAll(async () => {
    if (NATS_MISSING) return;
    server = await TestNats.start();
    client = await server.client();
    jsm = await jetstreamManager(client);
  });
  afterAll(async () => {
    await client?.close();
    await server?.destroy();
  });
  return {
    get server() {
      return server!;
    },
    get client() {
      return client!;
    },
    get jsm() {
      return jsm!;
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Servers still running when the test process exits (a test failed before destroy()) are killed, never left behind. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One nats-server process; start() again reuses its port and store. */
export class TestNats {
  private child: ChildProcess | undefined;
  private log = '';

  constructor(
    readonly dir: string,
    readonly port: number,
    private readonly extraArgs: readonly string[] = [],
    /** Where it runs (e.g. `ip netns exec HUB`: another host) and the address it listens on and is reached at. */
    private readonly place: { via: readonly string[]; listen: string; host: string } = { via: [], listen: '127.0.0.1', host: '127.0.0.1' },
  ) {}

  /** A fresh server (its own temp dir unless `dir` is given). */
  static async start(options: { args?: readonly string[]; dir?: string; port?: number; via?: readonly string[]; listen?: string; host?: string } = {}): Promise<TestNats> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'ordertail-nats-'));
    const place = { via: options.via ?? [], listen: options.listen ?? '127.0.0.1', host: options.host ?? '127.0.0.1' };
    const server = new TestNats(dir, options.port ?? (await freePort()), options.args ?? [], place);
    try {
      await server.start();
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Start (again) on the same port and store; resolves once it says it is ready. */
  async start(timeoutMs = 20_000): Promise<void> {
    mkdirSync(join(this.dir, 'store'), { recursive: true });
    this.log = '';
    const argv = ['nats-server', '-js', '-a', this.place.listen, '-p', String(this.port), '-sd', join(this.dir, 'store'), ...this.extraArgs];
    const command = [...this.place.via, ...argv];
    const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    live.add(child);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      this.log += d;
      if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
    });
    child.once('exit', () => {
      live.delete(child);
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + timeoutMs;
    while (!this.log.includes('Server is ready')) {
      if (this.child !== child) throw new Error(`nats-server exited at start-up:\n${this.log}`);
      if (Date.now() > deadline) throw new Error(`nats-server not ready after ${timeoutMs} ms:\n${this.log}`);
      await sleep(20);
    }
  }

  /** Everything it logged since its last start. */
  get output(): string {
    return this.log;
  }

  /** SIGTERM and wait for it to exit (it closes client connections: the server went away). */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** kill -9. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }

  /** The sink URL for `subject` (no credentials in it, ever). */
  url(subject: string, params = '', host = this.place.host): `nats://${string}` {
    return `nats://${host}:${this.port}/${subject}${params ? `?${params}` : ''}`;
  }

  async client(host = this.place.host): Promise<NatsConnection> {
    return connect({ servers: `${host}:${this.port}` });
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Three servers routed into one JetStream cluster on loopback. */
export class TestNatsCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: TestNats[],
  ) {}

  static async start(size = 3): Promise<TestNatsCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'ordertail-nats-cluster-'));
    const clientPorts: number[] = [];
    const routePorts: number[] = [];
    for (let i = 0; i < size; i++) {
      clientPorts.push(await freePort());
      routePorts.push(await freePort());
    }
    const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
    const nodes = clientPorts.map(
      (port, i) => new TestNats(join(dir, `n${i}`), port, ['-n', `n${i}`, '--cluster_name', 'ordertail-test', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes]),
    );
    const cluster = new TestNatsCluster(dir, nodes);
    try {
      await Promise.all(nodes.map((n) => n.start(30_000)));
      await cluster.waitForMeta();
    } catch (err) {
      // Nobody else holds the cluster yet: a failed start must not leave servers behind.
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /** The sink URL listing every node. */
  url(subject: string, params = ''): `nats://${string}` {
    return `nats://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}/${subject}${params ? `?${params}` : ''}`;
  }

  async client(): Promise<NatsConnection> {
    return connect({ servers: this.nodes.map((n) => `127.0.0.1:${n.port}`) });
  }

  /** JetStream's meta group has a leader (streams can be created). */
  private async waitForMeta(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const nc = await this.client();
    try {
      for (;;) {
        try {
          // Creating the manager asks for the account info: it answers once the meta group has a leader.
          await jetstreamManager(nc, { timeout: 2000 });
          return;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`JetStream cluster not ready: ${(err as Error).message}`);
          await sleep(200);
        }
      }
    } finally {
      await nc.close();
    }
  }

  /** The node leading `stream` (by its server name n<i>). */
  async leaderOf(stream: string): Promise<TestNats> {
    const nc = await this.client();
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(stream);
      const name = info.cluster?.leader;
      const i = Number(name?.slice(1));
      if (!name || !this.nodes[i]) throw new Error(`stream ${stream} has no leader (${JSON.stringify(info.cluster)})`);
      return this.nodes[i]!;
    } finally {
      await nc.close();
    }
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface StreamMessage {
  readonly seq: number;
  readonly msgId: string | undefined;
  readonly data: string;
}

/**
 * Every message in `stream`, in order, through an ordered consumer. Retried
 * for up to 60 s: in a cluster that just lost a node, creating the consumer
 * can time out while the meta group catches up.
 */
export async function readStream(nc: NatsConnection, stream: string): Promise<StreamMessage[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await readStreamOnce(nc, stream);
    } catch (err) {
      if (Date.now() > deadline || (err as Error).name !== 'TimeoutError') throw err;
      await sleep(500);
    }
  }
}

async function readStreamOnce(nc: NatsConnection, stream: string): Promise<StreamMessage[]> {
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const total = (await jsm.streams.info(stream)).state.messages;
  const out: StreamMessage[] = [];
  if (total === 0) return out;
  const consumer = await jetstream(nc, { timeout: 10_000 }).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1000 });
  for await (const m of messages) {
    out.push({ seq: m.seq, msgId: m.headers?.get('Nats-Msg-Id'), data: m.string() });
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return out;
}

/**
 * A durable pull consumer reading everything in `stream` and acking each
 * message: what a downstream service sees.
 */
export async function readDurable(nc: NatsConnection, stream: string, durable: string, idleMs = 1500): Promise<StreamMessage[]> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const out: StreamMessage[] = [];
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: idleMs });
    let n = 0;
    for await (const m of batch) {
      out.push({ seq: m.seq, msgId: m.headers?.get('Nats-Msg-Id'), data: m.string() });
      m.ack();
      n++;
    }
    if (n === 0) return out;
  }
}

/** Stream info, or undefined when there is no such stream. */
export async function streamMessages(jsm: JetStreamManager, stream: string): Promise<number | undefined> {
  try {
    return (await jsm.streams.info(stream)).state.messages;
  } catch {
    return undefined;
  }
}
