import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/**
 * Events of one save (an editor writes, truncates, renames) arrive within
 * this: they make one reload. The wait starts at a burst's first event and is
 * not pushed back by later ones: a file rewritten more often than this (a
 * flag controller, a test) would otherwise never be reloaded while it keeps
 * changing. A reload that finds the text it last applied does nothing.
 */
const SETTLE_MS = 250;

/**
 * Call `onChange` once a change of the file at `path` has settled, and about
 * every SETTLE_MS while it keeps changing. The directory is watched, not the
 * file: an editor's atomic save renames a new file over the old one, and a
 * watch on the old inode would see nothing more.
 * Returns a function that stops watching.
 */
export function watchConfigFile(path: string, onChange: () => void, onError: (message: string) => void): () => void {
  const dir = dirname(resolve(path));
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, { persistent: false }, (_event, changed) => {
      // No name (some platforms): it may be ours.
      if (changed && changed.toString() !== name) return;
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        onChange();
      }, SETTLE_MS);
    });
  } catch (err) {
    onError(`cannot watch ${dir} for changes of the config file (${(err as NodeJS.ErrnoException).code ?? String(err)}); reload with SIGHUP`);
    return () => {};
  }
  watcher.on('error', (err) => onError(`watching ${dir} for changes of the config file failed (${err.message}); reload with SIGHUP`));
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
