/**
 * The Docker image's contract, proven without a Docker engine (none runs on our machines):
 * `npm run smoke`, run by .ci/run.
 *
 * Replays the Dockerfile (parsed with dockerfile-ast) stage by stage in temporary folders, the
 * build context filtered by .dockerignore, then runs the runtime stage's ENTRYPOINT from its
 * WORKDIR with its ENV and compares it with bin/main of the source tree: spec, check and discover
 * byte for byte, a full read against the bundled simulator on records and state. It also checks
 * AIRBYTE_ENTRYPOINT = ENTRYPOINT, labels = package.json = metadata.yaml, USER node, a
 * node:<even major ≥ 22>-alpine base, no dev-only packages, musl builds of native packages, that
 * .dockerignore keeps secrets out, that acceptance-test-config.yml names existing files, and runs
 * examples/ci-sync.sh twice against the image (full, then incremental from the carried state).
 *
 * Not covered: the base image itself; the replay runs on this machine's Node.js and libc.
 * KEEP_SMOKE_DIR=1 keeps the temporary folder.
 */
import ignore from '@balena/dockerignore';
import { spawnSync } from 'child_process';
import * as ast from 'dockerfile-ast';
import fs from 'fs';
import yaml from 'js-yaml';
import os from 'os';
import path from 'path';
import { isDeepStrictEqual } from 'util';

import {
  ROOT,
  runChild,
  runMain,
  RunResult,
  SimulatorProcess,
  startSimulatorProcess,
} from './run-cli';

const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'image-smoke.'));
const STARTED = Date.now();
const seconds = (since: number) => `${Math.round((Date.now() - since) / 1000)}s`;
const say = (msg: string) => console.log(`image-smoke: [${seconds(STARTED)}] ${msg}`);
class SmokeFailure extends Error {}
function check(ok: unknown, msg: string): asserts ok {
  if (!ok) throw new SmokeFailure(msg);
}
/** Fails unless two things that must agree do, naming both. */
const agree = (what: string, actual: unknown, source: string, expected: unknown) =>
  check(expected && actual === expected, `${what} is '${actual}' but ${source} is '${expected}'`);
const read = (rel: string) => fs.readFileSync(path.resolve(ROOT, rel), 'utf8');
const exists = (rel: string) => fs.existsSync(path.resolve(ROOT, rel));

// This shell's environment without what `npm run smoke` adds (npm_config_*, its bin folders), so
// RUN's npm reads its own settings (npm_config_nodedir would pin native builds to this Node).
const npmBin = /node_modules\/\.bin$|node-gyp-bin/;
const PATH = (process.env.PATH ?? '').split(':').filter((dir) => !npmBin.test(dir));
const HOST = Object.entries(process.env).filter(([k]) => !/^(npm_|INIT_CWD$)/i.test(k));
const HOST_ENV = { ...Object.fromEntries(HOST), PATH: PATH.join(':') };

/** Runs a command to completion; its stdout. */
function run(argv: string[], cwd = WORK, env = HOST_ENV): string {
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const how = r.error?.message ?? `exit ${r.status ?? r.signal}`;
  check(r.status === 0, `${argv.join(' ')} failed (${how}): ${r.stderr?.slice(-2000)}`);
  return r.stdout;
}

// The build context: the working tree less what .dockerignore excludes (a folder's contents too).
const ignoreLines = exists('.dockerignore') ? read('.dockerignore').split('\n') : [];
const dockerignore = ignore().add(ignoreLines);
const negations = ignoreLines.some((l) => l.trim().startsWith('!'));
const inContext = (abs: string, rel = path.relative(ROOT, abs)) =>
  !rel || !dockerignore.ignores(rel) || (negations && fs.statSync(abs).isDirectory());

/** A build stage: its folder, the steps that fill it, and the metadata its image gets. */
interface Stage {
  name: string;
  base: string;
  root: string;
  parent?: Stage;
  steps: (() => void)[];
  workdir: string;
  user: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  entrypoint: string[];
}
function newStage(name: string, base: string, root: string, parent?: Stage): Stage {
  const steps = parent ? [() => run(['cp', '-a', `${parent.root}/.`, root])] : [];
  const { workdir, user, env, labels, entrypoint } = parent ?? SCRATCH;
  const copies = { env: { ...env }, labels: { ...labels } };
  return { name, base, root, parent, steps, workdir, user, entrypoint, ...copies };
}
const SCRATCH = { workdir: '/', user: 'root', env: {}, labels: {}, entrypoint: [] };

const SUPPORTED = ['FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'LABEL', 'USER', 'ENTRYPOINT'];
/** The Dockerfile as stages: steps that replay WORKDIR, COPY and RUN, and the image metadata. */
function plan(): Stage[] {
  const stages: Stage[] = [];
  for (const ins of ast.DockerfileParser.parse(read('Dockerfile')).getInstructions()) {
    const where = `Dockerfile:${ins.getRange().start.line + 1}`;
    const keyword = ins.getKeyword();
    const args = ins.getArguments().map((a) => a.getValue());
    const json = ins instanceof ast.JSONInstruction ? ins.getJSONStrings() : [];
    const exec = json.map((j) => j.getJSONValue());
    check(SUPPORTED.includes(keyword), `${where}: ${keyword} is not replayed (only ${SUPPORTED})`);
    const vars = ins instanceof ast.Run ? [] : ins.getVariables(); // RUN's shell expands its own
    check(!vars.length, `${where}: variables are not replayed: ${ins}`);
    if (ins instanceof ast.From) {
      const base = ins.getImage() ?? '';
      const root = fs.mkdtempSync(path.join(WORK, 'stage'));
      const parent = stages.find((s) => s.name === base);
      stages.push(newStage(ins.getBuildStage() ?? String(stages.length), base, root, parent));
      continue;
    }
    const s = stages.at(-1);
    check(s, `${where}: ${keyword} before FROM`);
    if (keyword === 'WORKDIR') {
      const dir = s.root + (s.workdir = path.posix.resolve(s.workdir, args.join(' ')));
      s.steps.push(() => fs.mkdirSync(dir, { recursive: true }));
    } else if (ins instanceof ast.Copy) {
      const from = ins.getFromFlag()?.getValue();
      const src = stages.find((x) => x.name === from);
      check(ins.getFlags().length === (from ? 1 : 0), `${where}: only COPY --from is replayed`);
      check(!from || src, `${where}: COPY --from=${from}: no such stage`);
      const paths = exec.length ? exec : args;
      check(paths.length >= 2, `${where}: COPY needs a source and a destination`);
      const dest = paths.at(-1) as string;
      const target = s.root + path.posix.resolve(s.workdir, dest);
      const intoDir = dest.endsWith('/') || paths.length > 2;
      for (const p of paths.slice(0, -1))
        s.steps.push(() => copy(`${where}: COPY ${p}`, p, src?.root, target, intoDir));
    } else if (ins instanceof ast.Run) {
      check(!ins.getFlags().length, `${where}: RUN ${ins.getFlags().join(' ')} is not replayed`);
      const argv = exec.length ? exec : ['sh', '-c', ins.getArgumentsContent() ?? ''];
      const [cwd, env] = [s.root + s.workdir, { ...HOST_ENV, ...s.env }];
      s.steps.push(() => runStep(where, argv, cwd, env));
    } else if (ins instanceof ast.PropertyInstruction && ['ENV', 'LABEL'].includes(keyword)) {
      const into = keyword === 'ENV' ? s.env : s.labels;
      for (const p of ins.getProperties()) into[p.getName()] = p.getValue() ?? '';
    } else if (keyword === 'USER') {
      s.user = args.join(' ');
    } else if (ins instanceof ast.Entrypoint) {
      check(exec.length, `${where}: ENTRYPOINT must use the exec form, ["node", …]`);
      s.entrypoint = exec;
    }
  }
  check(stages.length, 'the Dockerfile has no FROM');
  return stages;
}

/** COPY of one source: from a stage's folder, or from the build context. */
function copy(what: string, src: string, from: string | undefined, dest: string, into: boolean) {
  check(!/[*?[]/.test(src), `${what}: wildcards are not replayed`);
  const abs = path.join(from ?? ROOT, path.posix.normalize(src));
  check(fs.existsSync(abs) && (from || inContext(abs)), `${what}: not found (.dockerignore?)`);
  const dir = fs.statSync(abs).isDirectory();
  const destIsDir = fs.statSync(dest, { throwIfNoEntry: false })?.isDirectory();
  const to = !dir && (into || destIsDir) ? path.join(dest, path.basename(abs)) : dest;
  fs.mkdirSync(dir ? to : path.dirname(to), { recursive: true });
  // cp -a is several times faster than fs.cpSync on node_modules; the context needs the filter.
  if (from) run(['cp', '-a', dir ? `${abs}/.` : abs, to]);
  else fs.cpSync(abs, to, { recursive: true, verbatimSymlinks: true, filter: (p) => inContext(p) });
}

function runStep(where: string, argv: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const [started, label] = [Date.now(), argv.slice(argv[0] === 'sh' ? 2 : 0).join(' ')];
  const log = path.join(WORK, `run-${where.replace(/\D/g, '')}.log`);
  const fd = fs.openSync(log, 'w');
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const tail = () => fs.readFileSync(log, 'utf8').split('\n').slice(-40).join('\n');
  const how = r.error?.message ?? `exit ${r.status ?? r.signal}`;
  check(r.status === 0, `${where}: RUN ${label} failed (${how}):\n${tail()}`);
  say(`RUN ${label} (${seconds(started)})`);
}

/** The image's metadata against package.json, metadata.yaml, .dockerignore and the CAT config. */
function checkContract(image: Stage, bases: string[]) {
  for (const base of bases) {
    const major = Number(/^node:(\d+)[^@]*-alpine[\d.]*(@sha256:[0-9a-f]{64})?$/.exec(base)?.[1]);
    check(major >= 22 && major % 2 === 0, `FROM ${base}: expected node:<LTS major ≥ 22>-alpine`);
  }
  if (!bases.every((b) => b.startsWith(`node:${process.versions.node.split('.')[0]}`)))
    say(
      `note: the replay runs on Node.js ${process.version}; the image on ${[...new Set(bases)].join(', ')}`,
    );
  const entry = image.entrypoint.join(' ');
  check(entry, 'the runtime stage has no ENTRYPOINT');
  agree('ENV AIRBYTE_ENTRYPOINT', image.env.AIRBYTE_ENTRYPOINT, 'ENTRYPOINT (joined)', entry);
  check(image.user === 'node', `the runtime stage runs as USER ${image.user}, not node (non-root)`);

  const version = JSON.parse(read('package.json')).version;
  // FAILSAFE: every scalar stays a string, so a tag like 1.0 is not read as the number 1.
  const metadata = yaml.load(read('metadata.yaml'), { schema: yaml.FAILSAFE_SCHEMA });
  const meta = (metadata as { data: Record<string, string> }).data;
  const [name, tag] = [image.labels['io.airbyte.name'], image.labels['io.airbyte.version']];
  agree('LABEL io.airbyte.version', tag, 'package.json version', version);
  agree('metadata.yaml dockerImageTag', meta.dockerImageTag, 'package.json version', version);
  agree('LABEL io.airbyte.name', name, 'metadata.yaml dockerRepository', meta.dockerRepository);
  agree('metadata.yaml connectorType', meta.connectorType, 'the expected type', 'source');
  check(meta.icon && exists(meta.icon), `metadata.yaml icon '${meta.icon}' does not exist`);
  const doc = /\/blob\/[^/]+\/(.+)$/.exec(meta.documentationUrl ?? '')?.[1];
  check(doc && exists(doc), `metadata.yaml documentationUrl: no such file here: ${doc}`);
  const specDocs = JSON.parse(read('resources/spec.json')).documentationUrl;
  if (specDocs !== meta.documentationUrl) say(`note: spec.json documentationUrl is ${specDocs}`);

  const secrets = 'node_modules/x/y.js secrets/config.json coverage/lcov.info .git/HEAD';
  const leaks = secrets.split(' ').filter((p) => !dockerignore.ignores(p));
  check(!leaks.length, `.dockerignore does not exclude: ${leaks.join(', ')}`);

  const paths = new Set<string>();
  (function walk(v: unknown, key: string): void {
    if (typeof v === 'string' && key.endsWith('_path')) paths.add(v);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) walk(x, Array.isArray(v) ? key : k);
  })(yaml.load(read('acceptance-test-config.yml')), '');
  check(paths.size >= 5, `acceptance-test-config.yml: only ${paths.size} *_path entries found`);
  const gitIgnored = (p: string) =>
    spawnSync('git', ['check-ignore', '-q', p], { cwd: ROOT }).status === 0;
  for (const p of paths) {
    const ok = p.startsWith('secrets/') ? gitIgnored(p) && dockerignore.ignores(p) : exists(p);
    check(ok, `acceptance-test-config.yml: ${p}: no such file (or, in secrets/, not ignored)`);
  }
  say(`contract: ${name}:${version}, ENTRYPOINT ${entry}, USER node, ${paths.size} CAT paths`);
}

type LockEntry = { dev?: boolean; dependencies?: object; optionalDependencies?: object };
type Build = { os?: string[]; cpu?: string[]; libc?: string[] };

/** Production dependencies present, dev-only packages absent, musl builds of native packages. */
function checkRuntime(app: string) {
  const parts = 'package.json bin/main lib/index.js resources/spec.json node_modules'.split(' ');
  for (const part of parts) check(fs.existsSync(path.join(app, part)), `the image has no ${part}`);
  const lock: Record<string, LockEntry & Build> = JSON.parse(read('package-lock.json')).packages;
  const at = (p: string) => fs.existsSync(path.join(app, p));
  const missing = Object.keys(lock[''].dependencies ?? {}).filter((n) => !at(`node_modules/${n}`));
  check(!missing.length, `dependencies missing from the image: ${missing.join(', ')}`);
  const dev = Object.keys(lock).filter((p) => lock[p].dev || /\/(typescript|jest)$/.test(p));
  const present = dev.filter(at);
  check(!present.length, `dev-only packages in the image: ${present.slice(0, 8).join(', ')}`);
  for (const [p, entry] of Object.entries(lock).filter(([p, e]) => p && !e.dev)) {
    const optional = Object.keys(entry.optionalDependencies ?? {});
    const builds = optional.map((d) => lock[`node_modules/${d}`]);
    const linux = builds.filter((b) => b?.os?.includes('linux'));
    const cpus = (libc: string) =>
      linux.filter((b) => b.libc?.includes(libc)).map((b) => `${b.cpu}`);
    const noMusl = cpus('glibc').filter((cpu) => !cpus('musl').includes(cpu));
    check(!noMusl.length, `${p}: no musl build (alpine) for ${noMusl.join(', ')}`);
  }
  const kb = Number(run(['du', '-sk', app]).split('\t')[0]);
  say(`runtime stage: ${Math.round(kb / 1024)} MB, no dev-only packages`);
}

let simulator: SimulatorProcess | undefined;

/** Fails unless the image's output is the source tree's, showing the first difference. */
function same(what: string, image: string, source: string) {
  if (image === source) return;
  const [a, b] = [image.split('\n'), source.split('\n')];
  const n = (a.length > b.length ? a : b).findIndex((_, i) => a[i] !== b[i]);
  const [x = '(none)', y = '(none)'] = [a[n], b[n]];
  let col = 0;
  while (x[col] === y[col]) col++;
  const [from, to] = [Math.max(0, col - 100), col + 200];
  const where = `${what}, line ${n + 1}, column ${col + 1}: the image (<) differs from bin/main (>)`;
  check(false, `${where}\n< ${x.slice(from, to)}\n> ${y.slice(from, to)}`);
}

/** Records (stream and data, without emitted_at) and states of a read, one JSON line each. */
const recordsAndStates = (out: string) =>
  out.split('\n').flatMap((line) => {
    const m = line ? JSON.parse(line) : {};
    const kept = m.type === 'RECORD' ? { stream: m.record.stream, data: m.record.data } : m.state;
    return m.type === 'RECORD' || m.type === 'STATE' ? [JSON.stringify(kept)] : [];
  });

async function main() {
  const stages = plan();
  const image = stages.at(-1) as Stage;
  checkContract(
    image,
    stages.filter((s) => !s.parent).map((s) => s.base),
  );
  for (const stage of stages) {
    say(`stage ${stage.name} FROM ${stage.base}`);
    stage.steps.forEach((step) => step());
  }
  const app = image.root + image.workdir;
  checkRuntime(app);

  // The ENTRYPOINT's absolute paths live under the image's folder.
  const cmd = image.entrypoint.map((a) => (a.startsWith('/') ? image.root + a : a));
  const home = fs.mkdtempSync(path.join(WORK, 'home'));
  const env = { PATH: HOST_ENV.PATH, HOME: home, ...image.env };
  /** The image's entrypoint and bin/main with the same arguments: their stdouts. */
  const both = async (...args: string[]) => {
    const options = { env, inheritEnv: false };
    const image = await runChild(cmd[0], [...cmd.slice(1), ...args], { ...options, cwd: app });
    const source = await runMain(args, { ...options, cwd: ROOT });
    const ok = (who: string, r: RunResult) =>
      check(
        r.code === 0,
        `${who} ${args[0]} exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`,
      );
    ok('the image', image);
    ok('bin/main', source);
    return [image.stdout, source.stdout] as const;
  };

  const [spec, sourceSpec] = await both('spec');
  same('spec', spec, sourceSpec);
  const expected = JSON.parse(read('test_files/expected_spec.json'));
  const actual = JSON.parse(spec).spec;
  check(isDeepStrictEqual(actual, expected), 'test_files/expected_spec.json is not the spec');
  say(`spec: identical (${spec.length} bytes), matches test_files/expected_spec.json`);

  simulator = await startSimulatorProcess(['--port', '0', '--offers', '300']);
  const url = simulator.url;
  const config = path.join(WORK, 'config.json');
  fs.writeFileSync(config, JSON.stringify({ api_token: 'sim-token', api_url: url }));
  const [checked, discovered] = [
    await both('check', '--config', config),
    await both('discover', '--config', config),
  ];
  same('check', ...checked);
  same('discover', ...discovered);
  check(checked[0].includes('"status":"SUCCEEDED"'), `check did not succeed: ${checked[0]}`);
  check(
    discovered[0].includes('"name":"offers"'),
    `discover has no offers stream: ${discovered[0]}`,
  );
  say('check, discover: identical; check SUCCEEDED');

  const catalog = path.join(ROOT, 'test_files/configured_catalog.json');
  const reads = await both('read', '--config', config, '--catalog', catalog);
  const [out, source] = reads.map(recordsAndStates);
  same('read (records and state)', out.join('\n'), source.join('\n'));
  const records = out.filter((l) => l.startsWith('{"stream":"offers","data"')).length;
  const states = out.length - records;
  check(records === 300 && states === 1, `full read: ${records} records, ${states} states`);
  say(`read: identical, ${records} records and 1 STATE`);

  // examples/ci-sync.sh against the image folder: full, then incremental from the carried state.
  const ci = path.join(WORK, 'ci');
  const sync = { SYNC_DIR: ci, GOKART_MAIN: cmd.join(' ') };
  const ciEnv = { ...env, ...sync, GOKART_API_TOKEN: 'sim-token', GOKART_API_URL: url };
  const ciSync = () => {
    run(['bash', path.join(ROOT, 'examples/ci-sync.sh')], WORK, ciEnv);
    const lines = fs.readFileSync(path.join(ci, 'output.jsonl'), 'utf8').split('\n');
    const msgs = lines.filter((l) => l.startsWith('{"type":"RECORD"')).map((l) => JSON.parse(l));
    const text = fs.readFileSync(path.join(ci, 'state.json'), 'utf8');
    const state = JSON.parse(text);
    check(state.length === 1 && state[0].type === 'STREAM', `ci-sync.sh state.json: ${text}`);
    const ids: string[] = msgs.map((m) => m.record.data.id);
    return { ids, cursor: String(state[0].stream.stream_state.launchDate) };
  };
  const run1 = ciSync();
  check(run1.ids.length === 300, `ci-sync.sh run 1 read ${run1.ids.length} offers, not 300`);
  // Seven offers launched in the last hours, as a partner would publish between two runs.
  const hoursAgo = (h: number) => new Date(Date.now() - h * 3600e3).toISOString();
  const range = { launchFrom: hoursAgo(3), launchTo: hoursAgo(1) };
  const body = JSON.stringify({ count: 7, seed: 7, ...range });
  const res = await fetch(`${url}/_sim/offers`, { method: 'POST', body });
  if (!res.ok) check(false, `POST /_sim/offers: ${res.status} ${await res.text()}`);
  const added = ((await res.json()) as { ids: string[] }).ids;
  const run2 = ciSync();
  const missed = added.filter((id) => !run2.ids.includes(id));
  check(!missed.length, `ci-sync.sh run 2 missed the new offers ${missed.join(', ')}`);
  check(run2.ids.length < 300, `ci-sync.sh run 2 read ${run2.ids.length} offers: not incremental`);
  const cursors = `cursor ${run1.cursor} -> ${run2.cursor}`;
  const advanced = Date.parse(run2.cursor) > Date.parse(run1.cursor);
  check(advanced, `ci-sync.sh: ${cursors} did not advance`);
  say(`ci-sync.sh: run 1 300 offers, run 2 ${run2.ids.length} (7 new); ${cursors}`);
  say('PASS');
}

main()
  .catch((err: unknown) => {
    console.error('image-smoke: FAIL:', err instanceof SmokeFailure ? err.message : err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await simulator?.stop();
    if (process.env.KEEP_SMOKE_DIR) console.log(`image-smoke: kept ${WORK}`);
    else fs.rmSync(WORK, { recursive: true, force: true });
  });
