/**
 * What the file sink does with the page cache of output it has written back:
 * 'drop' (a follower's default) evicts each stretch once an fdatasync has put it on disk,
 * one writeback stretch behind the end of the file, so a reader following the
 * output still finds the newest megabytes cached; 'keep' leaves the kernel to
 * decide. A replay writes gigabytes nobody reads back at once: cached, they
 * push out the input logs, and every new page is a fresh allocation (on the
 * shared VM, most of a write's cost; see native/src/writeback.rs).
 *
 * 'direct' (replays only: `once`) writes with O_DIRECT behind the engine
 * (native/src/direct_write.rs): no page cache at all, the last partial 4 KiB
 * block written through it at each checkpoint; so a record may reach the file
 * only at the next checkpoint, which a follower's live records must not wait for.
 *
 * Dropping and direct writes need the native addon (util/write-back.ts,
 * util/direct-write.ts). Without it, 'drop' writes back as 'keep' does, and
 * 'direct' writes as 'drop'.
 */
export type SinkPageCache = 'drop' | 'keep' | 'direct';
