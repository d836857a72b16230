/**
 * `bin/tap-gokart`: the same connector as a Singer tap (Meltano's conventions
 * for --about). A second consumer of readStreams(); config, validation,
 * paging, retries and the incremental rules are the Airbyte read's.
 */
import { Command } from 'commander';
import fs from 'fs';
import path from 'path';
import {
  readJsonFile,
  resolveConfig,
  RESOURCES_DIR,
  secretsOf,
  SPEC_PATH,
  validateConfig,
} from '../config';
import { errorText } from '../errors';
import { readStreams } from '../read/read';
import { Scrubber } from '../text';
import { allStreams, selectedStreams, singerCatalog } from './catalog';
import { parseSingerState, readState } from './state';
import { oneLine, SingerWriter } from './writer';
import { SyncMode } from 'faros-airbyte-cdk/lib/protocol';

const NAME = 'tap-gokart';
export const CAPABILITIES = ['catalog', 'discover', 'state', 'about', 'properties'];

interface Options {
  config?: string;
  discover?: boolean;
  catalog?: string;
  properties?: string;
  state?: string;
  about?: boolean;
  format?: string;
}

export function main(argv: string[] = process.argv): void {
  const scrubber = new Scrubber();
  const fail = (reason: string) => {
    process.stderr.write(`${NAME} failed: ${scrubber.text(oneLine(reason))}\n`);
    process.exitCode = 1;
  };
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(`stopped: stdout was closed by its reader (${err.code ?? err.message})\n`);
    process.exit(1);
  });
  const program = new Command(NAME)
    .description(description())
    .version(packageVersion(), '--version')
    .option('--config <path>', "config JSON file (the same as bin/main's)")
    .option('--discover', 'print the catalog')
    .option('--catalog <path>', 'catalog JSON file selecting streams and properties')
    .option('--properties <path>', 'legacy name of --catalog')
    .option('--state <path>', 'state JSON file: the last STATE value of the previous sync')
    .option('--about', 'describe the tap: capabilities and settings')
    .option('--format <format>', 'with --about: json or markdown', 'json')
    .showHelpAfterError()
    .action(async (opts: Options) => {
      try {
        await run(opts, scrubber);
      } catch (err) {
        fail(errorText(err));
      }
    });
  program.parseAsync(argv).catch((err) => fail(errorText(err)));
}

async function run(opts: Options, scrubber: Scrubber): Promise<void> {
  if (opts.about) {
    if (opts.format !== 'json' && opts.format !== 'markdown')
      throw new Error(`--format must be json or markdown (got ${JSON.stringify(opts.format)})`);
    process.stdout.write(
      opts.format === 'json' ? JSON.stringify(about(), null, 2) + '\n' : aboutMarkdown(),
    );
    return;
  }
  if (!opts.config) throw new Error('--config <path> is required (or --about, --help, --version)');
  if (opts.catalog && opts.properties) throw new Error('give --catalog or --properties, not both');
  const raw = readJsonFile(opts.config, 'config');
  scrubber.add(secretsOf(raw));
  const config = resolveConfig(validateConfig(raw));
  if (opts.discover) {
    process.stdout.write(JSON.stringify(singerCatalog(), null, 2) + '\n');
    return;
  }
  const catalogFile = opts.catalog ?? opts.properties;
  const warn = (message: string) => process.stderr.write(`WARN ${scrubber.text(message)}\n`);
  const streams = catalogFile
    ? selectedStreams(readJsonFile(catalogFile, 'catalog'), warn)
    : allStreams();
  const state = parseSingerState(opts.state ? readJsonFile(opts.state, 'state') : undefined);
  if (!streams.length) {
    process.stderr.write(
      `INFO The catalog ${catalogFile} selects no stream (add "selected": true to a stream's metadata with "breadcrumb": []): nothing to sync\n`,
    );
    return;
  }
  const writer = new SingerWriter(streams, state, process.stdout, process.stderr, scrubber);
  const configured = streams.map(({ stream, method }) => ({
    stream,
    syncMode: method === 'INCREMENTAL' ? SyncMode.INCREMENTAL : SyncMode.FULL_REFRESH,
  }));
  const failure = await writer.consume(readStreams(config, configured, readState(state, streams)));
  if (failure !== undefined) throw new Error(failure);
}

function packageJson(): { version: string } {
  return JSON.parse(fs.readFileSync(path.join(RESOURCES_DIR, '..', 'package.json'), 'utf8'));
}
const packageVersion = () => packageJson().version;
const description = () => "Singer tap for GoKart's Partner API offers list";

interface Setting {
  type?: string | string[];
  description?: string;
  default?: unknown;
  secret?: boolean;
  [key: string]: unknown;
}

/** What `--about --format json` prints: the Meltano SDK's fields; settings from resources/spec.json. */
export function about() {
  const spec = JSON.parse(fs.readFileSync(SPEC_PATH, 'utf8')).connectionSpecification;
  const properties: Record<string, Setting> = {};
  for (const [name, prop] of Object.entries<Record<string, unknown>>(spec.properties)) {
    const { airbyte_secret, order: _order, ...rest } = prop; // eslint-disable-line @typescript-eslint/no-unused-vars
    properties[name] = { ...rest, ...(airbyte_secret ? { secret: true, writeOnly: true } : {}) };
  }
  return {
    name: NAME,
    description: description(),
    version: packageVersion(),
    capabilities: CAPABILITIES,
    settings: { type: 'object', properties, required: spec.required ?? [] },
  };
}

function aboutMarkdown(): string {
  const info = about();
  const required = new Set(info.settings.required as string[]);
  const rows = Object.entries(info.settings.properties).map(
    ([name, s]) =>
      `| ${name} | ${[s.type].flat().join(', ')} | ${required.has(name) ? 'yes' : ''} | ${s.default === undefined ? '' : JSON.stringify(s.default)} | ${s.secret ? 'yes' : ''} | ${String(s.description ?? '').replace(/\|/g, '\\|')} |`,
  );
  return [
    `# ${info.name}`,
    '',
    info.description,
    '',
    `Version: ${info.version}`,
    '',
    '## Capabilities',
    '',
    ...info.capabilities.map((c) => `- ${c}`),
    '',
    '## Settings',
    '',
    '| setting | type | required | default | secret | description |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
