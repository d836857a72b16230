/**
 * Preloaded (`node -r`) into every process the benchmark measures: reports the
 * peak RSS on fd 3 at exit, so stdout and stderr stay untouched.
 */
import fs from 'fs';

process.on('exit', () => {
  try {
    fs.writeSync(3, `${process.resourceUsage().maxRSS}\n`);
  } catch {
    // not run by the benchmark: nothing to report
  }
});
