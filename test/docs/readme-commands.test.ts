import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI_PATH, REPO_ROOT } from '../../kit/repo-root.js';

/**
 * The README's command list (README › Commands) against the CLI itself:
 * every command `hexfleet --help` lists, and every flag and subcommand its
 * own help names, is in the command's row; neither the README nor docs/
 * ever tells a reader to run `hexfleet …`, which `npm ci` does not put on the PATH.
 */

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const help = (...args: string[]): string => execFileSync(process.execPath, [CLI_PATH, ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { PATH: process.env.PATH } });
const usage = help('--help');

/** The commands of `hexfleet --help`'s Usage block. */
const commands = [...new Set([...usage.matchAll(/^ {2}hexfleet (\[?[a-z-]+)/gm)].map((m) => m[1]!.replace('[', '')))];

/** The README row of a command: `| \`npx hexfleet <command>\` …`. */
function row(command: string): string {
  const line = readme.split('\n').find((l) => l.startsWith('| ') && (l.split('|')[1] ?? '').includes(`\`npx hexfleet ${command}\``));
  if (!line) throw new Error(`README › Commands has no row for npx hexfleet ${command}`);
  return line;
}

/** The flags a help text names (`--to`, `--orders-per-minute`, …). */
const flagsIn = (text: string): string[] => [...new Set([...text.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]))];

describe('README › Commands lists what the CLI has', () => {
  it('hexfleet --help lists the commands', () => {
    expect(commands).toEqual(['serve', 'token', 'reconcile', 'simulate', 'replay', 'dlq', 'backup', '--help']);
  });

  it.each(commands)('npx hexfleet %s has a row', (command) => {
    expect(() => row(command)).not.toThrow();
  });

  it.each(['token', 'reconcile'])('every flag of %s in hexfleet --help is in its row', (command) => {
    const lines = usage.split('\n').filter((l) => l.startsWith(`  hexfleet ${command} `)).join('\n');
    const flags = flagsIn(lines.replace(/--help/g, ''));
    expect(flags.length).toBeGreaterThan(0);
    for (const flag of flags) expect(row(command), flag).toContain(`\`${flag}`);
  });

  it.each(['simulate', 'replay', 'dlq', 'backup'])('every flag and subcommand of hexfleet %s --help is in its row', (command) => {
    const own = help(command, '--help');
    const flags = flagsIn(own).filter((f) => f !== '--help');
    expect(flags.length).toBeGreaterThan(0);
    for (const flag of flags) expect(row(command), flag).toContain(flag);
    const subcommands = [...own.matchAll(new RegExp(`^ {2}hexfleet ${command} ([a-z]+)`, 'gm'))].map((m) => m[1]!);
    for (const sub of subcommands) expect(row(command), sub).toContain(`\`${sub}`);
  });

  it('states the exit codes that hexfleet --help states', () => {
    expect(usage).toContain('2  a configuration or usage error');
    expect(readme).toMatch(/\*\*Exit codes\*\*, every command: `0` done[^]*`1` a runtime failure[^]*`2` a configuration or usage error/);
  });

  it.each(['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)])(
    '%s never says to run `hexfleet …` without npx (it is not on the PATH after npm ci)',
    (file) => {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      const cmd = '(?:serve|token|reconcile|simulate|replay|dlq|backup|--help)\\b';
      const bare: string[] = [];
      // Code spans that start with the command.
      for (const m of text.matchAll(new RegExp(`\`hexfleet ${cmd}[^\`]*\``, 'g'))) bare.push(m[0]);
      // Lines of sh blocks that run it.
      let inSh = false;
      for (const line of text.split('\n')) {
        if (line.startsWith('```')) inSh = !inSh && line.trim() === '```sh';
        else if (inSh && new RegExp(`(?<!npx )(?<![\\w/.-])hexfleet ${cmd}`).test(line.replace(/#.*$/, ''))) bare.push(line);
      }
      expect(bare, bare.join('\n')).toEqual([]);
    },
  );
});
