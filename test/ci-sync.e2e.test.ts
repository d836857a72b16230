import fs from 'fs';
import path from 'path';
import { runChild } from '../tools/run-cli';
import { GoKartSimulator } from '../tools/simulator';
import { MAIN, ROOT, TempDir } from './cli-helpers';

// examples/ci-sync.sh as a CI job runs it, with bin/main (GOKART_MAIN) against the simulator.

const SCRIPT = path.join(ROOT, 'examples', 'ci-sync.sh');
let sim: GoKartSimulator;
const tmp = new TempDir();
const syncDir = path.join(tmp.dir, 'gokart-sync');
const file = (name: string) => fs.readFileSync(path.join(syncDir, name), 'utf8');
const lines = (name: string) => file(name).split('\n').filter(Boolean);

beforeAll(async () => {
  sim = await GoKartSimulator.start({ offers: 120 });
});
afterAll(async () => {
  await sim.close();
  tmp.remove();
});

async function ciSync(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const { code, stderr } = await runChild('bash', [SCRIPT], {
    cwd: tmp.dir,
    inheritEnv: false,
    env: {
      PATH: process.env.PATH ?? '',
      GOKART_MAIN: `${process.execPath} ${MAIN}`,
      SYNC_DIR: syncDir,
      ...env,
    },
  });
  return { code, stderr };
}

describe('examples/ci-sync.sh', () => {
  it('keeps output.jsonl, offers.jsonl and state.json; a failed run changes none of them', async () => {
    const ok = await ciSync({ GOKART_API_TOKEN: 'sim-token', GOKART_API_URL: sim.url });
    expect(ok).toMatchObject({ code: 0 });
    const records = lines('output.jsonl').filter((l) => l.startsWith('{"type":"RECORD"'));
    expect(records).toHaveLength(120);
    expect(lines('offers.jsonl').map((l) => JSON.parse(l))).toEqual(
      records.map((l) => JSON.parse(l).record.data),
    );
    const [state] = JSON.parse(file('state.json'));
    expect(state.stream.stream_state.launchDate).toEqual(expect.any(String));

    const before = ['output.jsonl', 'offers.jsonl', 'state.json'].map(file);
    const failed = await ciSync({ GOKART_API_TOKEN: 'wrong-token', GOKART_API_URL: sim.url });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('rejected the API token');
    expect(['output.jsonl', 'offers.jsonl', 'state.json'].map(file)).toEqual(before);
    expect(fs.readdirSync(syncDir).sort()).toEqual(['offers.jsonl', 'output.jsonl', 'state.json']);
  });

  it('exits 2 naming the setting that is missing', async () => {
    expect(await ciSync({ GOKART_API_URL: sim.url })).toEqual({
      code: 2,
      stderr: expect.stringContaining('GOKART_API_TOKEN'),
    });
    expect(await ciSync({ GOKART_API_TOKEN: 'sim-token' })).toEqual({
      code: 2,
      stderr: expect.stringContaining('GOKART_TENANT'),
    });
  });
});
