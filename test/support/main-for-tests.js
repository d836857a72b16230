#!/usr/bin/env node
// bin/main for the tests: the same CLI with test-only tuning passed in as options,
// so product code reads no test switches from the environment.
// - retries back off from 20 ms instead of 500 ms;
// - TEST_KILL_BEFORE_COMMIT=1 makes `sync` die inside its commit transaction, before COMMIT;
// - TEST_STAGE_CHUNK_BYTES=n makes `sync` load its staged rows every n bytes, not every 16 MiB;
// - TEST_DUCKDB_MEMORY_LIMIT sets the memory_limit a sync starts with (to make DuckDB run out).
require('../../lib/index').main(process.argv, {
  retryBaseDelayMs: 20,
  beforeCommit:
    process.env.TEST_KILL_BEFORE_COMMIT === '1'
      ? () => process.kill(process.pid, 'SIGKILL')
      : undefined,
  stageChunkBytes: Number(process.env.TEST_STAGE_CHUNK_BYTES) || undefined,
  duckdbMemoryLimit: process.env.TEST_DUCKDB_MEMORY_LIMIT || undefined,
});
