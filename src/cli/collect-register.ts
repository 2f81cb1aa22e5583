import { Command, Option } from 'commander';
import type { CollectCommand } from './collect-command.js';

/*
 * The `collect` command's definition (flags, help). What it runs, and the
 * config-file loader it needs, are in collect-command.ts, loaded only when
 * `collect` is the command given: `run` does not pay for them.
 */

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

async function runCollectLazily(cmd: CollectCommand): Promise<void> {
  const { runCollect } = await import('./collect-command.js');
  await runCollect(cmd);
}

/** Add `collect` to the program. `onCollect` runs it (default: runCollect). */
export function registerCollectCommand(program: Command, onCollect: (cmd: CollectCommand) => Promise<void> = runCollectLazily): Command {
  return program
    .command('collect')
    .description('poll exchanges (ccxt) for futures tickers and funding rates; write changed records as NDJSON')
    .exitOverride()
    .option('-c, --config <file>', 'YAML config: its collector: section (or the whole file); flags override its keys')
    .option('-e, --exchange <id>', 'ccxt exchange id, e.g. binanceusdm, bybit (repeatable; replaces the config list)', collect)
    .option('--symbols <list>', 'comma-separated unified symbols, e.g. BTC/USDT:USDT (default: every swap/future market)')
    .option('--interval <duration>', 'poll interval, e.g. 1s, 500ms (default 1s; development profile 5s)')
    .addOption(new Option('--profile <name>', 'default settings (default production)').choices(['development', 'production']))
    .option('--snapshot-every <cycles>', 'write every record, changed or not, every N cycles')
    .option('--concurrency <n>', 'HTTP requests in flight across all exchanges')
    .option('--base-url <origin>', 'send every exchange REST request to this origin (a proxy or a local mock)')
    .option('--no-rate-limit', "turn off ccxt's own per-exchange rate limiter")
    .option('--sink <sink>', "'stdout' (default), 'file:PATH' or 'none'")
    .option('--once', 'one cycle of every exchange, then exit 0')
    .option('--duration <duration>', 'stop by itself after this long, e.g. 30s')
    .action(async (flags: Record<string, unknown>) => {
      const { collectCommandFromFlags } = await import('./collect-command.js');
      await onCollect(collectCommandFromFlags(flags));
    });
}
