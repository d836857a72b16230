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
import { ChildProcess, spawn, spawnSync } from 'child_process';
import {
  Copy,
  DockerfileParser,
  Entrypoint,
  From,
  JSONInstruction,
  PropertyInstruction,
  Run,
} from 'dockerfile-ast';
import fs from 'fs';
import yaml from 'js-yaml';
import os from 'os';
import path from 'path';
import { isDeepStrictEqual } from 'util';

const ROOT = path.resolve(__dirname, '../..');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'image-smoke.'));
const STARTED = Date.now();
const say = (msg: string) =>
  console.log(`image-smoke: [${Math.round((Date.now() - STARTED) / 1000)}s] ${msg}`);
class SmokeFailure extends Error {}
function check(ok: unknown, msg: string): asserts ok {
  if (!ok) throw new SmokeFailure(msg);
}
const read = (rel: string) => fs.readFileSync(path.resolve(ROOT, rel), 'utf8');
const exists = (rel: string) => fs.existsSync(path.resolve(ROOT, rel));

interface Stage {
  name: string;
  base: string;
  fromStage: boolean;
  root: string;
  workdir: string;
  user: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  entrypoint: string[];
  steps: (() => void)[];
}

// The build context: the working tree less what .dockerignore excludes.
const ignoreLines = exists('.dockerignore') ? read('.dockerignore').split('\n') : [];
const dockerignore = ignore().add(ignoreLines);
const negations = ignoreLines.some((l) => l.trim().startsWith('!'));
const inContext = (abs: string) => {
  const rel = path.relative(ROOT, abs);
  return !rel || !dockerignore.ignores(rel) || (negations && fs.statSync(abs).isDirectory());
};

/** Reads the Dockerfile into stages whose steps replay COPY, RUN and WORKDIR; the rest is metadata. */
function plan(): Stage[] {
  const stages: Stage[] = [];
  for (const ins of DockerfileParser.parse(read('Dockerfile')).getInstructions()) {
    const where = `Dockerfile:${ins.getRange().start.line + 1}`;
    const keyword = ins.getKeyword();
    const args = ins.getArguments().map((a) => a.getValue());
    const json =
      ins instanceof JSONInstruction ? ins.getJSONStrings().map((j) => j.getJSONValue()) : [];
    if (keyword !== 'RUN')
      check(!ins.getVariables().length, `${where}: variables are not replayed: ${ins}`);
    if (ins instanceof From) {
      const base = ins.getImage() ?? '';
      const parent = stages.find((s) => s.name === base);
      const root = path.join(WORK, `stage${stages.length}`);
      fs.mkdirSync(root);
      const p = parent ?? {
        workdir: '/',
        user: 'root',
        env: {},
        labels: {},
        entrypoint: [] as string[],
      };
      stages.push({
        ...{ name: ins.getBuildStage() ?? String(stages.length), base, fromStage: !!parent, root },
        ...{
          workdir: p.workdir,
          user: p.user,
          env: { ...p.env },
          labels: { ...p.labels },
          entrypoint: p.entrypoint,
        },
        steps: parent ? [() => run(['cp', '-a', `${parent.root}/.`, root], WORK, process.env)] : [],
      });
      continue;
    }
    const s = stages.at(-1);
    check(s, `${where}: ${keyword} before FROM`);
    if (keyword === 'WORKDIR') {
      const dir = s.root + (s.workdir = path.posix.resolve(s.workdir, args.join(' ')));
      s.steps.push(() => fs.mkdirSync(dir, { recursive: true }));
    } else if (ins instanceof Copy) {
      const bad = ins.getFlags().filter((f) => f.getName() !== 'from');
      check(!bad.length, `${where}: COPY ${bad.join(' ')} is not replayed`);
      const from = ins.getFromFlag()?.getValue();
      const src = from ? stages.find((x) => x.name === from) : undefined;
      check(!from || src, `${where}: COPY --from=${from}: no such stage`);
      const paths = json.length ? json : args;
      check(paths.length >= 2, `${where}: COPY needs a source and a destination`);
      const dest = paths.at(-1) as string;
      const target = s.root + path.posix.resolve(s.workdir, dest);
      const intoDir = dest.endsWith('/') || paths.length > 2;
      s.steps.push(() =>
        paths.slice(0, -1).forEach((p) => copy(where, src?.root, p, target, intoDir)),
      );
    } else if (ins instanceof Run) {
      check(!ins.getFlags().length, `${where}: RUN ${ins.getFlags().join(' ')} is not replayed`);
      const argv = json.length ? json : ['sh', '-c', ins.getArgumentsContent() ?? ''];
      const env = { ...process.env, ...s.env };
      const cwd = s.root + s.workdir;
      s.steps.push(() => runStep(where, argv, cwd, env));
    } else if (ins instanceof PropertyInstruction && (keyword === 'ENV' || keyword === 'LABEL')) {
      const into = keyword === 'ENV' ? s.env : s.labels;
      for (const p of ins.getProperties()) into[p.getName()] = p.getValue() ?? '';
    } else if (keyword === 'USER') {
      s.user = args.join(' ');
    } else if (ins instanceof Entrypoint) {
      check(json.length, `${where}: ENTRYPOINT must use the exec form, ["node", …]`);
      s.entrypoint = json;
    } else {
      check(
        false,
        `${where}: ${keyword} is not replayed (supported: FROM WORKDIR COPY RUN ENV LABEL USER ENTRYPOINT)`,
      );
    }
  }
  check(stages.length, 'the Dockerfile has no FROM');
  return stages;
}

function copy(
  where: string,
  fromRoot: string | undefined,
  src: string,
  target: string,
  intoDir: boolean,
) {
  check(!/[*?[]/.test(src), `${where}: COPY wildcards are not replayed: ${src}`);
  const abs = path.join(fromRoot ?? ROOT, path.posix.normalize(src));
  check(
    fs.existsSync(abs) && (fromRoot || inContext(abs)),
    `${where}: COPY ${src}: not found${fromRoot ? '' : ' in the build context (after .dockerignore)'}`,
  );
  const dir = fs.statSync(abs).isDirectory();
  const into = !dir && (intoDir || fs.statSync(target, { throwIfNoEntry: false })?.isDirectory());
  const to = into ? path.join(target, path.basename(abs)) : target;
  fs.mkdirSync(dir ? to : path.dirname(to), { recursive: true });
  // cp -a is several times faster than fs.cpSync on node_modules; the context needs the filter.
  if (fromRoot) run(['cp', '-a', dir ? `${abs}/.` : abs, to], WORK, process.env);
  else fs.cpSync(abs, to, { recursive: true, verbatimSymlinks: true, filter: inContext });
}

function runStep(where: string, argv: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const started = Date.now();
  const log = path.join(WORK, `run-${where.replace(/\D/g, '')}.log`);
  const fd = fs.openSync(log, 'w');
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const label = argv.slice(argv[0] === 'sh' ? 2 : 0).join(' ');
  const tail = () => fs.readFileSync(log, 'utf8').split('\n').slice(-40).join('\n');
  check(
    r.status === 0,
    `${where}: RUN ${label} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${tail()}`,
  );
  say(`RUN ${label} (${Math.round((Date.now() - started) / 1000)}s)`);
}

/** The image's metadata against package.json, metadata.yaml, .dockerignore and the CAT config. */
function checkContract(stages: Stage[]) {
  const image = stages.at(-1) as Stage;
  for (const { base } of stages.filter((s) => !s.fromStage)) {
    const m = /^node:(\d+)[^@]*-alpine[\d.]*(@sha256:[0-9a-f]{64})?$/.exec(base);
    check(m, `FROM ${base}: expected node:<LTS major>-alpine`);
    check(
      +m[1] >= 22 && +m[1] % 2 === 0,
      `FROM ${base}: Node ${m[1]} is not a current LTS line (even, >= 22)`,
    );
  }
  const entry = image.entrypoint.join(' ');
  check(entry, 'the runtime stage has no ENTRYPOINT');
  const airbyteEntry = image.env.AIRBYTE_ENTRYPOINT;
  check(
    airbyteEntry === entry,
    `ENV AIRBYTE_ENTRYPOINT '${airbyteEntry ?? ''}' differs from ENTRYPOINT joined by spaces '${entry}'`,
  );
  check(image.user === 'node', `the runtime stage runs as '${image.user}', not USER node`);

  const version = JSON.parse(read('package.json')).version;
  // FAILSAFE: every scalar is a string, so a tag like 1.0 stays "1.0".
  const meta = (
    yaml.load(read('metadata.yaml'), { schema: yaml.FAILSAFE_SCHEMA }) as {
      data: Record<string, string>;
    }
  ).data;
  const [name, label] = [image.labels['io.airbyte.name'], image.labels['io.airbyte.version']];
  check(
    label === version,
    `LABEL io.airbyte.version '${label}' but package.json version is ${version}`,
  );
  check(
    meta.dockerImageTag === version,
    `metadata.yaml dockerImageTag '${meta.dockerImageTag}' != package.json version ${version}`,
  );
  check(
    meta.dockerRepository && name === meta.dockerRepository,
    `LABEL io.airbyte.name '${name}' != metadata.yaml dockerRepository '${meta.dockerRepository}'`,
  );
  check(
    meta.connectorType === 'source',
    `metadata.yaml connectorType '${meta.connectorType}' is not source`,
  );
  check(meta.icon && exists(meta.icon), `metadata.yaml icon '${meta.icon}' does not exist`);
  const doc = /\/blob\/[^/]+\/(.+)$/.exec(meta.documentationUrl ?? '');
  check(
    doc && exists(doc[1]),
    `metadata.yaml documentationUrl '${meta.documentationUrl}' does not name a file of this repository`,
  );
  const specDocs = JSON.parse(read('resources/spec.json')).documentationUrl;
  if (specDocs !== meta.documentationUrl)
    say(`note: resources/spec.json documentationUrl ${specDocs} differs from metadata.yaml's`);

  const leaks = [
    'node_modules/x/index.js',
    'secrets/config.json',
    'coverage/lcov.info',
    '.git/HEAD',
  ].filter((p) => !dockerignore.ignores(p));
  check(!leaks.length, `.dockerignore does not exclude: ${leaks.join(', ')}`);

  const paths = new Set<string>();
  (function walk(v: unknown, key: string): void {
    if (typeof v === 'string' && key.endsWith('_path')) paths.add(v);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) walk(x, Array.isArray(v) ? key : k);
  })(yaml.load(read('acceptance-test-config.yml')), '');
  check(
    paths.size >= 5,
    `acceptance-test-config.yml: only ${paths.size} *_path entries found: is the file in the expected layout?`,
  );
  for (const p of paths) {
    const gitIgnored = () =>
      spawnSync('git', ['check-ignore', '-q', p], { cwd: ROOT }).status === 0;
    if (p.startsWith('secrets/'))
      check(
        gitIgnored() && dockerignore.ignores(p),
        `acceptance-test-config.yml: ${p}: secrets must be git- and docker-ignored`,
      );
    else check(exists(p), `acceptance-test-config.yml: ${p}: no such file`);
  }
  say(
    `contract: ENTRYPOINT ${entry}, USER ${image.user}, ${name}:${version}; acceptance-test-config.yml: ${paths.size} paths OK`,
  );
}

interface LockEntry {
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  libc?: string[];
}

/** Production dependencies present, dev-only packages absent, musl builds of native packages locked. */
function checkRuntime(app: string) {
  for (const part of [
    'package.json',
    'bin/main',
    'lib/index.js',
    'resources/spec.json',
    'node_modules',
  ])
    check(fs.existsSync(path.join(app, part)), `the image has no ${part} in its WORKDIR`);
  const lock: Record<string, LockEntry> = JSON.parse(read('package-lock.json')).packages;
  const at = (p: string) => fs.existsSync(path.join(app, p));
  const missing = Object.keys(lock[''].dependencies ?? {}).filter((n) => !at(`node_modules/${n}`));
  check(!missing.length, `dependencies missing from the image: ${missing.join(', ')}`);
  const dev = Object.keys(lock).filter((p) => p && lock[p].dev && at(p));
  for (const tool of ['typescript', 'jest'])
    if (at(`node_modules/${tool}`)) dev.push(`node_modules/${tool}`);
  check(
    !dev.length,
    `dev-only packages in the image: ${dev.slice(0, 8).join(', ')}${dev.length > 8 ? ', …' : ''}`,
  );
  const linux = (p: string, libc: string) =>
    lock[`node_modules/${p}`]?.libc?.includes(libc) &&
    lock[`node_modules/${p}`].os?.includes('linux');
  for (const [p, entry] of Object.entries(lock).filter(([p, e]) => p && !e.dev)) {
    const optional = Object.keys(entry.optionalDependencies ?? {});
    for (const glibc of optional.filter((d) => linux(d, 'glibc'))) {
      const cpu = String(lock[`node_modules/${glibc}`].cpu);
      const musl = optional.some(
        (d) => linux(d, 'musl') && String(lock[`node_modules/${d}`].cpu) === cpu,
      );
      check(musl, `${p.replace(/^node_modules\//, '')}: ${glibc} has no musl build for alpine`);
    }
  }
  const kb = spawnSync('du', ['-sk', app], { encoding: 'utf8' }).stdout.split('\t')[0];
  say(`runtime stage: ${Math.round(+kb / 1024)} MB, no dev-only packages`);
}

let simulator: ChildProcess | undefined;
function startSimulator(): Promise<string> {
  const sim = (simulator = spawn(
    process.execPath,
    ['lib/simulator-cli.js', '--port', '0', '--offers', '300'],
    { cwd: ROOT },
  ));
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      const m = /GoKart simulator listening on (\S+)/.exec((out += d));
      if (m) resolve(m[1]);
    };
    sim.stdout?.on('data', onData);
    sim.stderr?.on('data', onData);
    sim.on('exit', (code) =>
      reject(new SmokeFailure(`the simulator exited (${code}) before listening: ${out}`)),
    );
    setTimeout(
      () => reject(new SmokeFailure(`the simulator did not start in 20 s: ${out}`)),
      20_000,
    ).unref();
  });
}

/** Runs a command to completion; its stdout. */
function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  const r = spawnSync(argv[0], argv.slice(1), { cwd, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  check(
    r.status === 0,
    `${argv.join(' ')} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}): ${r.stderr?.slice(-2000)}`,
  );
  return r.stdout;
}

function same(what: string, image: string, source: string) {
  if (image === source) return;
  const [a, b] = [image.split('\n'), source.split('\n')];
  const n = a.findIndex((l, i) => l !== b[i]);
  const line = (s: string | undefined) => (s ?? '(none)').slice(0, 300);
  check(
    false,
    `${what} differs between the image (<) and the source tree (>) at line ${n + 1}:\n< ${line(a[n])}\n> ${line(b[n])}`,
  );
}

/** Records (stream and data, without emitted_at) and states of a read, one JSON line each. */
function recordsAndStates(out: string): string[] {
  return out
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      const m = JSON.parse(l);
      if (m.type === 'RECORD')
        return [JSON.stringify({ stream: m.record.stream, data: m.record.data })];
      return m.type === 'STATE' ? [JSON.stringify(m.state)] : [];
    });
}

async function main() {
  const stages = plan();
  checkContract(stages);
  for (const [i, stage] of stages.entries()) {
    say(`stage ${stage.name === String(i) ? i : stage.name} FROM ${stage.base}`);
    stage.steps.forEach((step) => step());
  }
  const image = stages.at(-1) as Stage;
  const app = image.root + image.workdir;
  checkRuntime(app);

  // The ENTRYPOINT's absolute paths live under the image's folder.
  const imageCmd = image.entrypoint.map((a) =>
    a.startsWith('/') && fs.existsSync(image.root + a) ? image.root + a : a,
  );
  const env = { PATH: process.env.PATH, HOME: path.join(WORK, 'home'), ...image.env };
  fs.mkdirSync(env.HOME);
  const both = (...args: string[]) => [
    run([...imageCmd, ...args], app, env),
    run([path.join(ROOT, 'bin/main'), ...args], ROOT, env),
  ];

  const [spec, sourceSpec] = both('spec');
  same('spec', spec, sourceSpec);
  const expected = JSON.parse(read('test_files/expected_spec.json'));
  check(
    isDeepStrictEqual(JSON.parse(spec).spec, expected),
    'test_files/expected_spec.json differs from the spec; regenerate it with:\n  bin/main spec | node -p \'JSON.stringify(JSON.parse(require("fs").readFileSync(0, "utf8")).spec, null, 2)\' > test_files/expected_spec.json',
  );
  say(`spec: identical (${Buffer.byteLength(spec)} bytes), matches test_files/expected_spec.json`);

  const url = await startSimulator();
  const config = path.join(WORK, 'config.json');
  fs.writeFileSync(config, JSON.stringify({ api_token: 'sim-token', api_url: url }));
  const [checked, discovered] = ['check', 'discover'].map((cmd) => {
    const [out, source] = both(cmd, '--config', config);
    same(cmd, out, source);
    return out;
  });
  check(checked.includes('"status":"SUCCEEDED"'), `check did not succeed: ${checked}`);
  check(
    discovered.includes('"name":"offers"'),
    `discover has no offers stream: ${discovered.slice(0, 300)}`,
  );
  say('check, discover: identical; check SUCCEEDED');

  const [read1, sourceRead] = both(
    'read',
    '--config',
    config,
    '--catalog',
    path.join(ROOT, 'test_files/configured_catalog.json'),
  ).map(recordsAndStates);
  same('read (records and state)', read1.join('\n'), sourceRead.join('\n'));
  const records = read1.filter((l) => l.startsWith('{"stream":"offers","data"')).length;
  check(
    records === 300 && read1.length === 301,
    `full read: ${records} records and ${read1.length - records} STATE messages (want 300 and 1)`,
  );
  say(`read: identical, ${records} records and 1 STATE`);

  // examples/ci-sync.sh against the image folder: full, then incremental from the carried state.
  const ci = path.join(WORK, 'ci');
  const ciEnv = {
    ...env,
    GOKART_API_TOKEN: 'sim-token',
    GOKART_API_URL: url,
    SYNC_DIR: ci,
    GOKART_MAIN: imageCmd.join(' '),
  };
  const ciSync = () => {
    run(['bash', path.join(ROOT, 'examples/ci-sync.sh')], WORK, ciEnv);
    const lines = fs.readFileSync(path.join(ci, 'output.jsonl'), 'utf8').split('\n');
    const ids: string[] = lines
      .filter((l) => l.startsWith('{"type":"RECORD"'))
      .map((l) => JSON.parse(l).record.data.id);
    const state = JSON.parse(fs.readFileSync(path.join(ci, 'state.json'), 'utf8'));
    check(
      Array.isArray(state) && state.length === 1 && state[0].type === 'STREAM',
      `ci-sync.sh: state.json is not a list of one STREAM state: ${JSON.stringify(state)}`,
    );
    return { ids, cursor: String(state[0].stream.stream_state.launchDate) };
  };
  const run1 = ciSync();
  check(run1.ids.length === 300, `ci-sync.sh run 1 read ${run1.ids.length} offers, not 300`);
  // Seven offers launched in the last hours, as a partner would publish between two runs.
  const hour = 3600e3;
  const body = {
    count: 7,
    seed: 7,
    launchFrom: new Date(Date.now() - 3 * hour).toISOString(),
    launchTo: new Date(Date.now() - hour).toISOString(),
  };
  const res = await fetch(`${url}/_sim/offers`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) check(false, `POST /_sim/offers: ${res.status} ${await res.text()}`);
  const added = ((await res.json()) as { ids: string[] }).ids;
  const run2 = ciSync();
  const missed = added.filter((id) => !run2.ids.includes(id));
  check(!missed.length, `ci-sync.sh run 2 missed new offers ${missed.join(', ')}`);
  check(
    run2.ids.length < 300,
    `ci-sync.sh run 2 re-read ${run2.ids.length} offers: not incremental`,
  );
  check(
    Date.parse(run2.cursor) > Date.parse(run1.cursor),
    `ci-sync.sh: cursor did not advance: ${run1.cursor} -> ${run2.cursor}`,
  );
  say(
    `ci-sync.sh: run 1 300 offers, run 2 ${run2.ids.length} (7 new); cursor ${run1.cursor} -> ${run2.cursor}`,
  );
  say('PASS');
}

main()
  .catch((err: unknown) => {
    const msg =
      err instanceof SmokeFailure
        ? err.message
        : err instanceof Error
          ? (err.stack ?? err.message)
          : String(err);
    console.error(`image-smoke: FAIL: ${msg}`);
    process.exitCode = 1;
  })
  .finally(() => {
    simulator?.kill();
    if (process.env.KEEP_SMOKE_DIR) console.log(`image-smoke: kept ${WORK}`);
    else fs.rmSync(WORK, { recursive: true, force: true });
  });
