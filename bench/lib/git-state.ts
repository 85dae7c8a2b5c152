import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from '../../kit/repo-root.js';

/**
 * The commit the run's build came from and whether src/ had uncommitted
 * changes then: the figures belong to that code. Take it at the start of a
 * run, since others may commit to the tree while it goes on.
 */
export function gitState(): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', 'src');
    return dirty ? `commit ${head} with uncommitted changes under src/` : `commit ${head}, src/ unchanged`;
  } catch {
    return 'an unknown revision (git unavailable)';
  }
}
