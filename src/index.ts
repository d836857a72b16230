import {
  AirbyteConfiguredCatalog,
  AirbyteConnectionStatusMessage,
} from 'faros-airbyte-cdk/lib/protocol';
import { Command, Option } from 'commander';
import fs from 'fs';
import { constants } from 'os';
import path from 'path';
import { ConfigInput, readConfigInput, readJsonFile, Tuning } from './config';
import { ConnectorError, errorText } from './errors';
import { defaultCatalog } from './airbyte/catalog';
import { traceError } from './airbyte/messages';
import { GoKartSource } from './airbyte/source';
import { AirbyteWriter } from './airbyte/writer';
import { STATE_FROM_OUTPUT } from './read/state';

const CONNECTOR = 'source-gokart-offers';
/** package.json (in the image too): its version, and homepage = metadata.yaml's documentationUrl. */
const PACKAGE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as {
  version: string;
  homepage: string;
};
/** One example per command, shown in the overall help and in each command's help. */
const EXAMPLES: Record<string, string> = {
  spec: 'bin/main spec',
  check: 'bin/main check --config config.json',
  discover: 'bin/main discover --config config.json > discover.json',
  read: 'bin/main read --config config.json --catalog catalog.json --state state.json > output.jsonl',
  sync: 'bin/main sync --config config.json --db ./gokart-offers.duckdb',
  query: 'bin/main query --db ./gokart-offers.duckdb "SELECT name, launchDate FROM offers LIMIT 5"',
  state: 'bin/main state --db ./gokart-offers.duckdb',
};
/** More examples in a command's own help. */
const MORE_EXAMPLES: Record<string, string[]> = {
  sync: [
    'bin/main sync --config config.json --streams offers   # skip the one-request-per-offer details',
    'bin/main sync --config config.json --json | jq .streams.offers.new',
  ],
  query: [
    'bin/main query --db ./gokart-offers.duckdb            # summary: rows, newest offers, last runs',
    'bin/main query "SELECT offerType, count(*) AS offers FROM offers GROUP BY ALL" --csv > types.csv',
    `bin/main query "SELECT id, budgetAmount FROM offers" --json | jq '.[0]'`,
  ],
  state: ['bin/main state --reset          # the next sync reads every offer again'],
};

/**
 * The Airbyte CLI contract: spec | check | discover | read, messages on stdout (and `sync`).
 * `tuning` is for tests (test/support/main-for-tests.js); bin/main passes none.
 */
export function main(argv: string[] = process.argv, tuning: Tuning = {}): void {
  // The reader went away (`| head`, a killed pipeline): nothing more can be delivered.
  // Stop with one line rather than a stack trace; no state is lost, since state is
  // only ever written after the records it covers.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(`stopped: stdout was closed by its reader (${err.code ?? err.message})\n`);
    process.exit(1);
  });
  const out = new AirbyteWriter(process.stdout);
  // Each input file is read once (it may be a pipe: --config /dev/stdin, <(…)); the
  // config's token is scrubbed from everything printed after it was read.
  const readConfig = async (file: string | undefined): Promise<ConfigInput> => {
    const input = readConfigInput(file);
    out.scrubber.add(input.secrets);
    if (input.fromEnv.length)
      await out.log('INFO', `Options from the environment: ${input.fromEnv.join(', ')}`);
    for (const warning of input.warnings) await out.log('WARN', warning);
    return input;
  };
  const configOption = '--config <path>';
  const configHelp = 'config JSON file (optional when GOKART_* variables set the options)';
  let stop: AbortSignal | undefined;
  const source = new GoKartSource(tuning);
  // Help and --version go to stdout when asked for; usage errors, and the help after them, to stderr.
  const program = new Command('bin/main')
    .description(`${CONNECTOR} ${PACKAGE.version}: GoKart offers source for Airbyte`)
    .version(PACKAGE.version, '--version', 'print the version')
    .showHelpAfterError()
    .addHelpText(
      'after',
      `\nExamples:\n${Object.values(EXAMPLES)
        .map((e) => `  ${e}`)
        .join('\n')}\n\nDocs: ${PACKAGE.homepage}`,
    );

  const run = (action: () => Promise<boolean>) => async () => {
    let ok = false;
    try {
      ok = await action();
    } catch (err) {
      const known = err instanceof ConnectorError;
      await out.message(
        traceError({
          message: errorText(err),
          internal_message: known ? err.internalMessage : (err as Error)?.stack,
          failure_type: known ? err.failureType : 'system_error',
        }),
      );
    }
    process.exitCode = ok ? 0 : stop?.aborted ? signalExitCode(stop.reason) : 1;
  };

  program
    .command('spec')
    .description('print the connector specification')
    .action(
      run(async () => {
        await out.message(await source.spec());
        return true;
      }),
    );
  program
    .command('check')
    .option(configOption, configHelp)
    .description('validate the config and make one request to GoKart')
    .action((opts) =>
      run(async () => {
        const { raw, warnings } = await readConfig(opts.config);
        const result = await source.check(raw, warnings);
        await out.message(new AirbyteConnectionStatusMessage(result));
        return true; // a FAILED check is a valid answer, not a crash
      })(),
    );
  program
    .command('discover')
    .option(configOption, configHelp)
    .description('print the catalog')
    .action((opts) =>
      run(async () => {
        await out.message({
          type: 'CATALOG',
          catalog: await source.discover((await readConfig(opts.config)).raw),
        });
        return true;
      })(),
    );
  program
    .command('read')
    .option(configOption, configHelp)
    .option(
      '--catalog <path>',
      'configured catalog JSON file (default: every stream, incremental where supported)',
    )
    .option('--state <path>', 'state JSON file from the previous sync')
    .description('read records, emitting RECORD, STATE and TRACE messages')
    .action((opts) =>
      run(async () => {
        const config = (await readConfig(opts.config)).raw;
        const catalog = opts.catalog ? readJsonFile(opts.catalog, 'catalog') : everyStream();
        const state = opts.state ? readJsonFile(opts.state, 'state', STATE_FROM_OUTPUT) : undefined;
        stop = stopOnSignal();
        return source.read(config, catalog, state, out, stop);
      })(),
    );

  program
    .command('sync')
    .option(configOption, configHelp)
    .option('--db <path>', 'DuckDB database file (created if missing)', './gokart-offers.duckdb')
    .option('--full-refresh', 'replace the table with the current inventory (drops deleted offers)')
    .option('--json', 'print the run summary (or the error) as one JSON object on stdout')
    .option(
      '--streams <names>',
      'comma-separated streams to sync (default: all, offers and offer_details)',
      (value: string) => value.split(',').map((name) => name.trim()),
    )
    .description('sync offers (and their details) into a local DuckDB database (no Airbyte needed)')
    .action(async (opts) => {
      // DuckDB runs each statement on a thread of libuv's pool. With one pool thread (set before
      // the pool starts, unless the user chose a size) glibc keeps one malloc arena for DuckDB's
      // loads rather than one per thread: 1,000,000 offers peaked some 80 MiB lower. The read
      // uses the pool only to resolve the API's host name.
      process.env.UV_THREADPOOL_SIZE ??= '1';
      const sync = await loadDuckDbCommand('sync', () => import('./sync'));
      if (!sync) return;
      const stopSync = stopOnSignal();
      const code = await sync.syncCommand({ ...opts, tuning }, stopSync);
      process.exitCode = code && stopSync.aborted ? signalExitCode(stopSync.reason) : code;
    });

  const dbOption = '--db <path>';
  const dbHelp = 'DuckDB database file that bin/main sync wrote (never created)';
  program
    .command('query')
    .argument('[sql]', 'one SQL statement; without it, a summary of the database')
    .option(dbOption, dbHelp, './gokart-offers.duckdb')
    .addOption(new Option('--json', 'one JSON array of row objects').conflicts('csv'))
    .option('--csv', 'CSV with a header line (RFC 4180 quoting)')
    .description('query the DuckDB database read-only: an aligned table, or --json / --csv')
    .action(async (sql: string | undefined, opts) => {
      const query = await loadDuckDbCommand('query', () => import('./warehouse/query'));
      if (!query) return;
      const format = opts.json ? 'json' : opts.csv ? 'csv' : 'table';
      process.exitCode = await query.queryCommand(sql, { db: opts.db, format });
    });
  program
    .command('state')
    .option(dbOption, dbHelp, './gokart-offers.duckdb')
    .option('--reset', 'clear the saved state: the next sync reads everything (the rows are kept)')
    .option('--stream <name>', 'only this stream (default: every stream)')
    .addOption(new Option('--json', 'the saved state as one JSON object').conflicts('reset'))
    .description("show the sync's saved state (cursor, when, which run), or clear it")
    .action(async (opts) => {
      const state = await loadDuckDbCommand('state', () => import('./warehouse/state'));
      if (!state) return;
      process.exitCode = await state.stateCommand(opts);
    });

  for (const command of program.commands) {
    const examples = [EXAMPLES[command.name()], ...(MORE_EXAMPLES[command.name()] ?? [])];
    if (examples[0]) {
      command.addHelpText(
        'after',
        `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((e) => `  ${e}`).join('\n')}`,
      );
    }
  }

  program.parseAsync(argv).catch((err) => {
    process.stderr.write(`${out.scrubber.text(errorText(err))}\n`);
    process.exitCode = 2;
  });
}

/**
 * A DuckDB command's module, loaded on demand: the Airbyte commands never load DuckDB's
 * native module, an optional dependency that the Docker image leaves out (~70 MB it does
 * not need). Undefined (exit code 1, said on stderr) when it is not installed.
 */
async function loadDuckDbCommand<T>(
  command: string,
  load: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await load();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    process.stderr.write(
      `${command} failed: it needs the optional dependency @duckdb/node-api, which this installation leaves out ` +
        '(the Docker image does); run it from a checkout after `npm ci`\n',
    );
    process.exitCode = 1;
    return undefined;
  }
}

/** Without --catalog: every stream in its default sync mode, said on stderr (Airbyte always passes one). */
function everyStream(): AirbyteConfiguredCatalog {
  const catalog = defaultCatalog();
  const modes = catalog.streams.map((s) => `${s.stream.name}: ${s.sync_mode}`);
  process.stderr.write(
    `No --catalog given: reading every stream with its default sync mode (${modes.join(', ')})\n`,
  );
  return catalog;
}

/**
 * From now on SIGINT and SIGTERM stop the command cleanly instead of killing it:
 * the returned signal aborts (its reason is the signal's name) and the command
 * reports what it did not finish. A second signal kills at once, and so does a
 * clean stop that cannot finish within 10 s (a reader that stopped reading).
 */
function stopOnSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    process.off('SIGINT', stop).off('SIGTERM', stop);
    controller.abort(signal);
    setTimeout(() => process.exit(signalExitCode(signal)), 10_000).unref();
  };
  process.on('SIGINT', stop).on('SIGTERM', stop);
  return controller.signal;
}

/** The shell's convention: 128 + the signal's number (SIGINT 130, SIGTERM 143). */
function signalExitCode(signal: unknown): number {
  return 128 + (constants.signals[signal as NodeJS.Signals] ?? 0);
}
