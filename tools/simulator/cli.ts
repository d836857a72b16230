/**
 * Runs the GoKart Partner API simulator as its own process, for the demo, benchmarks and
 * manual testing: `npm run simulator -- --offers 100000 --latency-ms 20`
 * (node build/tools/simulator/cli.js).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

import { DetailsShape, GoKartSimulator, SortMode } from '.';

/** Invalid option values exit with 2, like other CLI usage errors. */
const USAGE_EXIT_CODE = 2;

function integer(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

function token(value: string): string {
  if (!/^\S+$/.test(value)) throw new InvalidArgumentError('token must be non-empty, no spaces.');
  return value;
}

interface CliOptions {
  port: number;
  host: string;
  offers: number;
  seed: number;
  latencyMs: number;
  sortMode: SortMode;
  detailsShape: DetailsShape;
  token: string;
}

function parseArgs(argv: string[]): CliOptions {
  const program = new Command()
    .name('simulator')
    .description('Serve a deterministic GoKart Partner API offers list and offer details')
    .option('--port <n>', 'port to listen on (0 = random)', integer('port', 0, 65535), 0)
    .option('--host <h>', 'address to bind', '127.0.0.1')
    .option('--offers <n>', 'inventory size', integer('offers', 0, 10_000_000), 250)
    .option('--seed <n>', 'generator seed', integer('seed', -(2 ** 31), 2 ** 32 - 1), 1)
    .option(
      '--latency-ms <n>',
      'delay per API request (list or details)',
      integer('latency-ms', 0, 3_600_000),
      0,
    )
    .addOption(
      new Option('--sort-mode <mode>', 'how orderby is treated')
        .choices(['honour', 'ignore', 'reject'])
        .default('honour'),
    )
    .addOption(
      new Option('--details-shape <shape>', "offer details' data: the object, or a one-item page")
        .choices(['object', 'list'])
        .default('object'),
    )
    .option('--token <t>', 'accepted API token', token, 'sim-token')
    .showSuggestionAfterError(false)
    // Throw instead of exiting, so every usage error ends with the same exit code.
    .exitOverride();
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      const helpOrVersion = err.exitCode === 0;
      process.exit(helpOrVersion ? 0 : USAGE_EXIT_CODE);
    }
    throw err;
  }
  return program.opts<CliOptions>();
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv);
  let sim: GoKartSimulator;
  try {
    sim = await GoKartSimulator.start(options);
  } catch (err) {
    process.stderr.write(`error: cannot start simulator: ${(err as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `GoKart simulator listening on ${sim.url} (token ${options.token}, ${options.offers} offers)\n`,
  );
  let stopping = false;
  const stop = (): void => {
    // A second signal means "now": do not wait for the clean close.
    if (stopping) process.exit(1);
    stopping = true;
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
