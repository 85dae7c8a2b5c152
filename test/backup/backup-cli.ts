import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { CLI_PATH, REPO_ROOT } from '../../kit/repo-root.js';

/** What one `hexfleet` run printed, and how it ended. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** The parent's environment without anything that configures hexfleet (each run says what it wants). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('HEXFLEET_') || ['PORT', 'REDIS_URL', 'UWS_USE_FALLBACK'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, HEXFLEET_LOG_LEVEL: 'warn', ...extra };
}

/**
 * Runs the compiled CLI (`node dist/src/cli.js …`, built by the tests'
 * global setup) to completion, as an operator would, in its own process.
 */
export function hexfleet(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { cwd: REPO_ROOT, env: cleanEnv(env) });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** For afterAll/afterEach: kills every CLI run still going (a failed test must not leave one behind). */
export async function killCliRuns(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      const exited = new Promise((r) => child.once('close', r));
      child.kill('SIGKILL');
      return exited;
    }),
  );
}
