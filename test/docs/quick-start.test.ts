import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess } from '../../kit/gateway-process.js';
import { REPO_ROOT } from '../../kit/repo-root.js';

/**
 * The README's quick start as a newcomer runs it: the gateway started the way
 * it says (the built dist/, the memory store, its secret), then every sh
 * block after the first, in order, in ONE bash (variables and the background
 * driver carry over from block to block), followed by the match example of
 * docs/dispatch.md (its first sh block). Each command's answer must match its `# →` lines (`…`
 * stands for anything); lines the background driver prints ("driver d1 got
 * …") may come at any moment and are matched on their own.
 *
 * The README's localhost:8080 and localhost:9091 become this gateway's ports
 * (other gateways of the run may hold the defaults); nothing else is changed.
 */

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const dispatchDoc = readFileSync(new URL('../../docs/dispatch.md', import.meta.url), 'utf8');
const DRIVER_LINE = 'driver d1 got';
/** How long a step may keep answering otherwise before it fails (an offer accepted a moment after the match answered). */
const SETTLE_MS = 15_000;

function section(heading: string): string {
  const at = readme.indexOf(`\n## ${heading}`);
  if (at < 0) throw new Error(`README has no section "## ${heading}"`);
  const end = readme.indexOf('\n## ', at + 1);
  return readme.slice(at, end < 0 ? undefined : end);
}

function shBlocks(text: string): string[] {
  return [...text.matchAll(/^```sh\n([^]*?)^```$/gm)].map((m) => m[1]!);
}

interface Step {
  /** The lines given to bash. */
  script: string;
  /** Its `# →` lines: what it prints, in order. */
  expected: string[];
  /** Its `# → driver d1 got …` lines: what the background driver prints meanwhile. */
  driver: string[];
}

/** A block cut after each group of `# →` lines: each step is the commands before one such group. */
function steps(block: string): Step[] {
  const out: Step[] = [];
  let script: string[] = [];
  let expected: string[] = [];
  let driver: string[] = [];
  const flush = (): void => {
    if (script.some((l) => l.trim() !== '' && !l.trim().startsWith('#'))) out.push({ script: script.join('\n'), expected, driver });
    script = [];
    expected = [];
    driver = [];
  };
  for (const line of block.trimEnd().split('\n')) {
    const arrow = /^# → (.*)$/.exec(line);
    if (arrow) {
      (arrow[1]!.startsWith(DRIVER_LINE) ? driver : expected).push(arrow[1]!);
      continue;
    }
    if (expected.length + driver.length > 0) flush();
    script.push(line);
  }
  flush();
  return out;
}

/** `…` matches anything, everything else literally. */
function pattern(expected: string): RegExp {
  return new RegExp('^' + expected.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
}

/** One bash for the whole walk-through, fed step by step; each step ends with a marker line carrying its exit code. */
class Shell {
  readonly driverLines: string[] = [];
  private pending = '';
  private lines: string[] = [];
  private stderr = '';
  private n = 0;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => {
      this.pending += d.toString();
      for (let nl = this.pending.indexOf('\n'); nl >= 0; nl = this.pending.indexOf('\n')) {
        const line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        // The background driver may print while a step's curl is mid-line (its body written, the -w newline not yet):
        // its line goes to the driver's, and the step's text waits for the rest of its line.
        const at = line.indexOf(DRIVER_LINE);
        if (at > 0) {
          this.driverLines.push(line.slice(at));
          this.pending = line.slice(0, at) + this.pending;
          continue;
        }
        (line.startsWith(DRIVER_LINE) ? this.driverLines : this.lines).push(line);
      }
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  /** Runs a script; resolves with what it printed (the driver's lines apart) and its exit code. */
  async run(script: string): Promise<{ lines: string[]; code: number; stderr: string }> {
    const marker = `@@step-${++this.n}-done`;
    this.lines = [];
    this.stderr = '';
    this.child.stdin.write(`${script}\necho "${marker} $?"\n`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const end = this.lines.findIndex((l) => l.startsWith(marker));
      if (end >= 0) return { lines: this.lines.slice(0, end), code: Number(this.lines[end]!.split(' ')[1]), stderr: this.stderr };
      if (this.child.exitCode !== null) throw new Error(`bash exited (${this.child.exitCode}); stderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no end of step within 60 s:\n${script}\nstdout: ${this.lines.join('\n')}\nstderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

let gateway: GatewayProcess;
let shell: Shell;

beforeAll(async () => {
  gateway = await GatewayProcess.start({ env: { HEXFLEET_JWT_SECRET: quickStartSecret() } });
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HEXFLEET_') && !['PORT', 'REDIS_URL'].includes(k)) env[k] = v;
  // Its own process group: the clean-up ends bash and the driver it started in the background.
  shell = new Shell(spawn('bash', ['--noprofile', '--norc'], { cwd: REPO_ROOT, env, detached: true, stdio: 'pipe' }));
}, 60_000);

afterAll(async () => {
  if (shell?.child.pid) {
    const exited = new Promise((r) => shell.child.once('exit', r));
    try {
      process.kill(-shell.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
  }
  await gateway?.stop();
});

/** The secret of the quick start's start command, which the steps' tokens must be signed with. */
function quickStartSecret(): string {
  const start = shBlocks(section('Quick start'))[0] ?? '';
  const secret = /HEXFLEET_JWT_SECRET=(\S+) npm start/.exec(start)?.[1];
  if (!secret) throw new Error(`the quick start's first block does not start the gateway with HEXFLEET_JWT_SECRET=… npm start:\n${start}`);
  return secret;
}

describe('README quick start, run as written', () => {
  it('npm start is what the test starts (node dist/src/cli.js serve, memory store: no REDIS_URL)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe('node dist/src/cli.js serve');
    expect(shBlocks(section('Quick start'))[0]).not.toContain('REDIS_URL');
  });

  it('every example answers as the README shows, in the order it gives them (then the match example of docs/dispatch.md)', async () => {
    const blocks = [...shBlocks(section('Quick start')).slice(1), shBlocks(dispatchDoc)[0]!];
    const all = blocks.flatMap(steps);
    expect(all.filter((s) => s.expected.length > 0).length).toBeGreaterThanOrEqual(8);
    const local = (s: string): string => s.replaceAll('localhost:8080', `127.0.0.1:${gateway.port}`).replaceAll('localhost:9091', `127.0.0.1:${gateway.adminPort}`);
    for (const step of all) {
      const deadline = Date.now() + SETTLE_MS;
      let first: string[] | undefined;
      for (;;) {
        const { lines, code, stderr } = await shell.run(local(step.script));
        first ??= lines;
        const matches = code === 0 && lines.length === step.expected.length && step.expected.every((e, i) => pattern(e).test(lines[i]!));
        if (matches) break;
        // A step may be run again while the state it shows settles (the driver's accept lands a moment after the match).
        if (Date.now() > deadline) {
          // The first attempt's output too: a step whose later runs see a changed state (an order accepted since) hides why it failed.
          expect({ step: step.script, code, stderr, printed: lines }, `its first run printed ${JSON.stringify(first)}`).toEqual({ step: step.script, code: 0, stderr: expect.anything(), printed: step.expected });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const line of step.driver) {
        const until = Date.now() + SETTLE_MS;
        while (!shell.driverLines.some((l) => pattern(line).test(l))) {
          if (Date.now() > until) expect(shell.driverLines, `the driver to print ${line}`).toContain(line);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
    gateway.assertAlive();
  }, 240_000);
});
