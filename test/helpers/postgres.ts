/**
 * A throwaway PostgreSQL cluster for a test file: initdb in a temp directory
 * as the `postgres` user (the server refuses to run as root), listening on
 * 127.0.0.1 at a free port, password authentication (the sink's password
 * comes from PGPASSWORD, as in production). `stop()`/`start()` let a test
 * take the server away mid-run; `destroy()` removes everything.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

const PG_ROOT = '/usr/lib/postgresql';

function findBin(): string | undefined {
  if (!existsSync(PG_ROOT)) return undefined;
  const versions = readdirSync(PG_ROOT).filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(PG_ROOT, versions[0], 'bin') : undefined;
}

const BIN = findBin();
const POSTGRES_USER = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });

/** Why PostgreSQL tests cannot run here (undefined when they can). */
export const POSTGRES_MISSING: string | undefined = !BIN
  ? 'PostgreSQL not installed (Debian package `postgresql`: apt-get install -y postgresql; .ci/run installs it)'
  : POSTGRES_USER.status !== 0
    ? 'no `postgres` user to run the server as (the Debian package creates it)'
    : undefined;

/** Call first in a test: fails under ORDERTAIL_REQUIRE_TOOLS=1, else skips, when PostgreSQL is missing. */
export function requirePostgres(ctx: { skip: (note?: string) => void }): void {
  if (POSTGRES_MISSING && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(POSTGRES_MISSING);
  if (POSTGRES_MISSING) ctx.skip(POSTGRES_MISSING);
}

export const PG_USER = 'ordertail';
export const PG_PASSWORD = 'test-only-password';
export const PG_DB = 'orders';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Run a server binary as the postgres user (root cannot run the server). */
function asPostgres(bin: string, args: string[]): string {
  const argv = userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', join(BIN!, bin), ...args]] as const : [join(BIN!, bin), args] as const;
  return execFileSync(argv[0], [...argv[1]], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export class TestPostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** initdb, start, create the database; PGPASSWORD is set in this process for the engine. */
  static async start(): Promise<TestPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'ordertail-pg-'));
    if (userInfo().uid === 0) chownSync(dir, Number(POSTGRES_USER.stdout.trim()), 0);
    const pwfile = join(dir, 'pw');
    writeFileSync(pwfile, PG_PASSWORD);
    if (userInfo().uid === 0) chownSync(pwfile, Number(POSTGRES_USER.stdout.trim()), 0);
    asPostgres('initdb', ['-D', join(dir, 'data'), '-U', PG_USER, `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const port = await freePort();
    const pgsql = new TestPostgres(dir, port);
    pgsql.start();
    process.env.PGPASSWORD = PG_PASSWORD;
    const client = await pgsql.client('postgres');
    await client.query(`CREATE DATABASE ${PG_DB}`);
    await client.end();
    return pgsql;
  }

  /** Start (again) on the same port. */
  start(): void {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-l', join(this.dir, 'log'), '-o', opts, '-w', 'start']);
  }

  /** Stop it (fast: open connections are cut, as when a server goes away). */
  stop(): void {
    asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  }

  /** The sink URL: no password in it (PGPASSWORD carries it). */
  url(params = 'table=orders'): string {
    return `postgres://${PG_USER}@127.0.0.1:${this.port}/${PG_DB}?${params}`;
  }

  async client(database = PG_DB): Promise<pg.Client> {
    const client = new pg.Client({ host: '127.0.0.1', port: this.port, user: PG_USER, password: PG_PASSWORD, database });
    await client.connect();
    return client;
  }

  /** Rows in `table` (a name the test chose, not user input). */
  async rowCount(table = 'orders'): Promise<number> {
    return Number((await this.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
  }

  /** One query on a fresh connection. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<R[]> {
    const client = await this.client();
    try {
      return (await client.query<R>(sql, values)).rows;
    } finally {
      await client.end();
    }
  }

  destroy(): void {
    try {
      this.stop();
    } catch {
      /* already stopped */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * One throwaway PostgreSQL for a test file, started before its tests and
 * removed after them (nothing when it is not installed: tests call
 * requirePostgres first). Call at the file's top level.
 */
export function useTestPostgres(): { readonly server: TestPostgres } {
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    if (!POSTGRES_MISSING) server = await TestPostgres.start();
  });
  afterAll(() => server?.destroy());
  return {
    get server() {
      return server!;
    },
  };
}
