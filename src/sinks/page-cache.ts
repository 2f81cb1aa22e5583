/**
 * What the file sink does with the page cache of output it has written back:
 * 'drop' (default) evicts each stretch once an fdatasync has put it on disk,
 * one writeback stretch behind the end of the file, so a reader following the
 * output still finds the newest megabytes cached; 'keep' leaves the kernel to
 * decide. A replay writes gigabytes nobody reads back at once: cached, they
 * push out the input logs, and every new page is a fresh allocation (on the
 * shared VM, most of a write's cost; see native/src/writeback.rs).
 *
 * Dropping needs the native addon (util/write-back.ts). Without it, 'drop'
 * writes back as 'keep' does.
 */
export type SinkPageCache = 'drop' | 'keep';
