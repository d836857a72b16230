/**
 * Preloaded (`node -r`) into every process the benchmark measures: writes the peak RSS (KiB)
 * at exit to the file BENCH_RSS_FILE names, so stdout and stderr stay untouched.
 */
import fs from 'fs';

const file = process.env.BENCH_RSS_FILE;
if (file) {
  process.on('exit', () => fs.writeFileSync(file, `${process.resourceUsage().maxRSS}\n`));
}
