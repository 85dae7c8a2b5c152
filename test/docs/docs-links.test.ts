import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../kit/repo-root.js';

/**
 * The README is the guide and docs/ holds the references: the README links
 * every docs/ file, and every relative link of the README and docs/ reaches a
 * file that exists and, with a #fragment, a heading of that file (GitHub's
 * anchors: lower case, punctuation dropped, spaces as dashes).
 */

const docsDir = join(REPO_ROOT, 'docs');
const docFiles = readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => join(docsDir, f));
const files = [join(REPO_ROOT, 'README.md'), ...docFiles];

/** Markdown without its fenced code blocks (a `#` line in a sh block is no heading, a `](` in code no link). */
const prose = (text: string): string => text.replace(/^```[^]*?^```$/gm, '');

const anchor = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(readFileSync(file, 'utf8')).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = anchor(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every link target of a file that is neither a URL nor mail: `path`, `path#frag` or `#frag`. */
function localLinks(file: string): string[] {
  return [...prose(readFileSync(file, 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/i.test(t));
}

describe('README and docs/ links', () => {
  it('there are reference docs for protocols, configuration, error codes, metrics, benchmarks and operations', () => {
    const names = docFiles.map((f) => relative(docsDir, f));
    for (const name of ['driver-protocol.md', 'tracking-protocol.md', 'configuration.md', 'error-codes.md', 'metrics.md', 'benchmarks.md', 'operations.md']) expect(names).toContain(name);
  });

  it.each(docFiles.map((f) => relative(REPO_ROOT, f)))('the README links %s', (doc) => {
    expect(localLinks(join(REPO_ROOT, 'README.md'))).toContain(doc);
  });

  it.each(files.map((f) => relative(REPO_ROOT, f)))('every relative link of %s reaches a file and a heading', (name) => {
    const file = join(REPO_ROOT, name);
    const broken: string[] = [];
    for (const link of localLinks(file)) {
      const [path, fragment] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : join(dirname(file), path);
      if (!existsSync(target)) broken.push(`${link}: no file ${relative(REPO_ROOT, target)}`);
      else if (fragment !== undefined && target.endsWith('.md') && !anchorsOf(target).has(fragment)) broken.push(`${link}: no heading #${fragment} in ${relative(REPO_ROOT, target)}`);
    }
    expect(broken, broken.join('\n')).toEqual([]);
  });
});
