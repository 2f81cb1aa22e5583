/**
 * `npm run bench`: every benchmark, each printing its own table with ratios
 * against a baseline measured in the same run. BENCH_ONLY=e2e,latency picks some.
 * BENCH_ONLY=checkpoint: checkpoint cost (on/off) and restart time with a 16 M-slot snapshot.
 * BENCH_E2E_MB=200,1000 (default): input sizes of the end-to-end --once run; BENCH_E2E_REPEATS=3 runs per case.
 * BENCH_ONLY=startup: a one-record run's spawn → first record and peak RSS (BENCH_BASELINE as for replay).
 * BENCH_ONLY=replay: each order once on a multi-file replay with copies across files; BENCH_BASELINE=<built
 * checkout of another commit> (bench/baseline.sh) runs that build too, for a same-run ratio.
 */
const only = new Set((process.env.BENCH_ONLY ?? 'parser,ring,dedup,e2e,replay,startup,latency,collector,checkpoint').split(','));

if (only.has('parser')) {
  const { runParserSuite, SUITE_PARSERS } = await import('./parser-suite.js');
  const { SHAPES } = await import('./shapes.js');
  const rows = await runParserSuite(SUITE_PARSERS, SHAPES, 32 * 1024 * 1024);
  console.log('\nparser throughput (tinybench), one core, 32 MiB per shape');
  console.table(rows.map((r) => ({ shape: r.shape, parser: r.parser, 'MB/s': r.mbPerSec.toFixed(0), 'x JSON.parse': r.ratio.toFixed(2) })));
}
if (only.has('ring')) await (await import('./ring.js')).run();
if (only.has('dedup')) {
  const dedup = await import('./dedup.js');
  await dedup.run();
  await dedup.runForgetting();
}
if (only.has('e2e')) {
  const { run: runE2e, e2eSizes } = await import('./e2e-once.js');
  for (const megabytes of e2eSizes()) runE2e({ megabytes });
}
if (only.has('replay')) {
  const { run: runReplay, replaySizes } = await import('./dedup-replay.js');
  for (const size of replaySizes()) runReplay(size);
}
if (only.has('startup')) await (await import('./startup.js')).run();
if (only.has('latency')) await (await import('./follow-latency.js')).run();
if (only.has('collector')) await (await import('./collector.js')).run();
if (only.has('many-files')) await (await import('./many-files.js')).run();
if (only.has('checkpoint')) await (await import('./checkpoint.js')).run({ megabytes: Number(process.env.BENCH_MB ?? 200) });
