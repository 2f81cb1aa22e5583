/*
 * The checkpoint directory, made where it is missing (mkdir -p), one
 * component at a time: Node's own recursive mkdir loops forever, at full CPU
 * and deaf to signals, where mkdir answers ENOENT under a parent that exists
 * (procfs, sysfs: `--checkpoint /proc/x`). A path that cannot be a directory
 * is the configuration's fault and says so.
 */
import { mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/errors.js';

function unusable(dir: string, why: string): ConfigError {
  return new ConfigError(`checkpoint directory ${dir} cannot be used: ${why}`, 'checkpoint');
}

export function makeCheckpointDirectory(dir: string): void {
  const missing: string[] = [];
  for (let at = resolve(dir); ; ) {
    let stats: Stats;
    try {
      stats = statSync(at);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw unusable(dir, `${at}: ${code ?? String(err)}`);
      missing.push(at);
      const parent = dirname(at);
      if (parent === at) break;
      at = parent;
      continue;
    }
    if (!stats.isDirectory()) throw unusable(dir, `${at} is not a directory`);
    break;
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Made meanwhile by another process, or a symbolic link whose target the next step finds missing.
      if (code !== 'EEXIST') throw unusable(dir, `mkdir ${path}: ${code ?? String(err)}`);
    }
  }
}
