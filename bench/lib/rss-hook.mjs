// Preloaded with `node --import` into a measured child: at exit, writes the process's peak
// resident set size (getrusage ru_maxrss, in bytes) and CPU time (user + system, ms) to
// $BENCH_RSS_FILE as JSON. Both cover the whole process, worker threads included.
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_RSS_FILE;
if (out) {
  process.on('exit', () => {
    const r = process.resourceUsage();
    writeFileSync(
      out,
      JSON.stringify({ rss: r.maxRSS * 1024, cpuMs: (r.userCPUTime + r.systemCPUTime) / 1000 }),
    );
  });
}
