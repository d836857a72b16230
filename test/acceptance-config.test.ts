import Ajv from 'ajv';
import { execFileSync } from 'child_process';
import fs from 'fs';
import { load } from 'js-yaml';
import path from 'path';
import { ROOT } from './cli-helpers';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yaml = Record<string, any>;

const CONFIG_FILE = 'acceptance-test-config.yml';
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));
const validate = new Ajv({ allErrors: true }).compile(
  readJson('test_files/acceptance_test_config.schema.json'),
);
const loadConfig = (): Yaml =>
  load(fs.readFileSync(path.join(ROOT, CONFIG_FILE), 'utf8'), { filename: CONFIG_FILE }) as Yaml;

/** The schema's complaints, one line each (empty when the config is valid). */
function problems(config: unknown): string[] {
  if (validate(config)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`,
  );
}

/** Every "<something>_path" value in the config, wherever it is nested. */
function paths(node: unknown, key = ''): string[] {
  if (Array.isArray(node)) return node.flatMap((n) => paths(n));
  if (node && typeof node === 'object') {
    return Object.entries(node).flatMap(([k, v]) => paths(v, k));
  }
  return key.endsWith('_path') && typeof node === 'string' ? [node] : [];
}

describe('acceptance-test-config.yml', () => {
  it('loads in the current connector-acceptance-test config model', () => {
    expect(problems(loadConfig())).toEqual([]);
  });

  it('is refused with the keys CAT dropped (cursor_paths, threshold_days) or any unknown key', () => {
    const config = loadConfig();
    const incremental = config.acceptance_tests.incremental.tests[0];
    incremental.cursor_paths = { offers: ['launchDate'] };
    incremental.threshold_days = 3;
    config.acceptance_tests.basic_read.tests[0].validate_everything = true;
    const found = problems(config);
    for (const key of ['cursor_paths', 'threshold_days', 'validate_everything']) {
      expect(found).toContainEqual(expect.stringContaining(`"additionalProperty":"${key}"`));
    }
    expect(problems({ ...loadConfig(), tests: {} })).toContainEqual(
      expect.stringContaining('"additionalProperty":"tests"'),
    );
  });

  it('names files that exist, and secrets only where git ignores them', () => {
    const all = [...new Set(paths(loadConfig()))];
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const p of all) {
      if (p.startsWith('secrets/')) {
        expect(() => execFileSync('git', ['check-ignore', '-q', p], { cwd: ROOT })).not.toThrow();
      } else {
        expect([p, fs.existsSync(path.join(ROOT, p))]).toEqual([p, true]);
      }
    }
  });

  it('gives each test suite a catalog and state that fit it', () => {
    const tests = loadConfig().acceptance_tests;
    const modes = (suite: string) =>
      tests[suite].tests.flatMap((t: Yaml) =>
        readJson(t.configured_catalog_path).streams.map((s: Yaml) => s.sync_mode),
      );
    expect(modes('basic_read')).toEqual(['full_refresh']);
    expect(modes('full_refresh')).toEqual(['full_refresh']);
    expect(modes('incremental')).toEqual(['incremental']);
    const [future] = readJson(tests.incremental.tests[0].future_state.future_state_path);
    expect(future.stream.stream_descriptor.name).toBe('offers');
    expect(Date.parse(future.stream.stream_state.launchDate)).toBeGreaterThan(
      Date.parse('2900-01-01T00:00:00Z'),
    );
  });
});
