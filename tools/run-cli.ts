/**
 * The one way to run `bin/main` (or any other program) as a child process, shared by the tests,
 * the demo, the bench and the image smoke test. A small helper on node:child_process rather than
 * execa: we need exactly spawn + collect + exit code/signal, plus a streaming stdout for the bench.
 */
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';

/** The project's root: the nearest folder up with a package.json (from tools/ or build/tools/). */
export const ROOT = (function findRoot(dir: string): string {
  if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  const parent = path.dirname(dir);
  if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
  return findRoot(parent);
})(__dirname);
export const MAIN = path.join(ROOT, 'bin', 'main');

export interface RunOptions {
  /** Variables set for the child, over this process's environment unless inheritEnv is false. */
  env?: NodeJS.ProcessEnv;
  /** Default true. */
  inheritEnv?: boolean;
  cwd?: string;
  /** Written to the child's stdin, which is then closed; without it the child has no stdin. */
  stdin?: string;
  /**
   * 'collect' (default): returned as `stdout`. 'inherit': this process's stdout (a terminal sees
   * progress bars). A function: each chunk as it arrives, nothing kept (bench: gigabytes).
   */
  stdout?: 'collect' | 'inherit' | ((chunk: Buffer) => void);
  /** 'collect' (default) or 'inherit'. */
  stderr?: 'collect' | 'inherit';
  /** Sees the child as soon as it is spawned: to signal it, or to close its stdout. */
  onStart?: (child: ChildProcess) => void;
}

export interface MainOptions extends RunOptions {
  /** Node.js options before the script, e.g. ['-r', probe]. */
  nodeArgs?: string[];
  /** The script to run, default bin/main. */
  main?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Empty unless collected. */
  stdout: string;
  stderr: string;
}

/** Runs `bin/main args` on this Node.js; resolves when the child has exited and its pipes closed. */
export function runMain(args: string[], options: MainOptions = {}): Promise<RunResult> {
  const { nodeArgs = [], main = MAIN, ...rest } = options;
  return runChild(process.execPath, [...nodeArgs, main, ...args], rest);
}

/** Runs any program the same way (bash for shell pipes, an image's entrypoint). */
export function runChild(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const { stdout = 'collect', stderr = 'collect' } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...(options.inheritEnv === false ? {} : process.env), ...options.env },
      stdio: [
        options.stdin === undefined ? 'ignore' : 'pipe',
        stdout === 'inherit' ? 'inherit' : 'pipe',
        stderr === 'inherit' ? 'inherit' : 'pipe',
      ],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    if (child.stdout)
      child.stdout.on('data', typeof stdout === 'function' ? stdout : (d) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the child may exit without reading it all
      child.stdin.end(options.stdin);
    }
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    options.onStart?.(child);
  });
}

/** A simulator in a process of its own (build/tools/simulator/cli.js; `npm run build:tools`). */
export interface SimulatorProcess {
  url: string;
  /** Sends SIGTERM; resolves once it exited. */
  stop(): Promise<void>;
}

export async function startSimulatorProcess(args: string[]): Promise<SimulatorProcess> {
  const cli = path.join(ROOT, 'build', 'tools', 'simulator', 'cli.js');
  let child: ChildProcess | undefined;
  let said = '';
  let listening: (url: string) => void = () => {};
  const url = new Promise<string>((resolve) => (listening = resolve));
  const exited = runChild(process.execPath, [cli, ...args], {
    onStart: (c) => (child = c),
    stdout: (chunk) => {
      const match = /GoKart simulator listening on (\S+)/.exec((said += chunk.toString('utf8')));
      if (match) listening(match[1]);
    },
  });
  const early = exited.then((r) => {
    throw new Error(
      `the simulator exited (${r.code ?? r.signal}) before listening: ${said}${r.stderr}`,
    );
  });
  early.catch(() => {}); // once it listens, only stop() waits for the exit
  return {
    url: await Promise.race([url, early]),
    stop: async () => {
      child?.kill('SIGTERM');
      await exited;
    },
  };
}
