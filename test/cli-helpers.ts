import Ajv from 'ajv';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { MainOptions, ROOT, runMain, RunResult } from '../tools/run-cli';
import { generateOffers, GoKartSimulator } from '../tools/simulator';

export { ROOT };

/**
 * bin/main as the tests run it (test/support/main-for-tests.js): the same CLI with test
 * tuning passed in as options — retries wait 20 ms, not seconds; TEST_KILL_BEFORE_COMMIT=1
 * stops a sync inside its commit.
 */
export const MAIN = path.join(ROOT, 'test', 'support', 'main-for-tests.js');

const validateMessage = new Ajv({ allErrors: true, strict: false }).compile(
  JSON.parse(fs.readFileSync(path.join(ROOT, 'test_files', 'airbyte_message.schema.json'), 'utf8')),
);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Message = Record<string, any>;

export interface CliRun {
  code: number | null;
  messages: Message[];
  stdout: string;
  stderr: string;
  records: Message[];
  states: Message[];
  traces: Message[];
  logs: string[];
}

/** A temp folder per test file; JSON files written into it. */
export class TempDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gokart-test-'));
  write(name: string, value: unknown): string {
    const file = path.join(this.dir, name);
    fs.writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
    return file;
  }
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs the tests' bin/main (MAIN above). */
export function runMainForTest(args: string[], options: MainOptions = {}): Promise<RunResult> {
  return runMain(args, { main: MAIN, ...options });
}

/**
 * Runs bin/main as a child process and parses stdout; fails the test if any
 * stdout line is not a valid plain Airbyte message.
 */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const { code, stdout, stderr } = await runMainForTest(args, { env });
  const messages: Message[] = [];
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    let msg: Message;
    try {
      msg = JSON.parse(line);
    } catch {
      throw new Error(`stdout line is not JSON: ${line.slice(0, 200)}`);
    }
    if (!validateMessage(msg)) {
      throw new Error(`not a plain Airbyte message: ${line.slice(0, 300)}`);
    }
    messages.push(msg);
  }
  return {
    code,
    messages,
    stdout,
    stderr,
    records: messages.filter((m) => m.type === 'RECORD'),
    states: messages.filter((m) => m.type === 'STATE'),
    traces: messages.filter((m) => m.type === 'TRACE'),
    logs: messages.filter((m) => m.type === 'LOG').map((m) => m.log.message),
  };
}

export const CATALOG_FULL = path.join(ROOT, 'test_files', 'configured_catalog.json');
export const CATALOG_INCREMENTAL = path.join(
  ROOT,
  'test_files',
  'configured_catalog_incremental.json',
);

/** The stream statuses of a run, in order. */
export function statuses(run: CliRun): string[] {
  return run.traces
    .filter((t) => t.trace.type === 'STREAM_STATUS')
    .map((t) => t.trace.stream_status.status);
}

export function errors(run: CliRun): Message[] {
  return run.traces.filter((t) => t.trace.type === 'ERROR').map((t) => t.trace.error);
}

/** A fresh inventory of n generated offers, and the simulator's default behaviour (for each test). */
export function resetSimulator(sim: GoKartSimulator, n: number, seed: number): void {
  sim.remove(sim.offers().map((o) => o.id));
  if (n) sim.add(generateOffers(n, seed));
  sim.clearFaults();
  sim.setSortMode('honour');
  sim.setLatency(0);
  sim.setDetailsShape('object');
  sim.onRequest(undefined);
  sim.resetStats();
}

let configs = 0;
/** A config file for the simulator (its token and URL), plus `extra` options. */
export function simulatorConfig(
  tmp: TempDir,
  sim: GoKartSimulator,
  extra: Record<string, unknown> = {},
): string {
  return tmp.write(`config-${++configs}.json`, {
    api_token: sim.options.token,
    api_url: sim.url,
    ...extra,
  });
}
