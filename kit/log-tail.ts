import { readFileSync } from 'node:fs';

/** The last `lines` lines of `file` (trailing blank lines dropped), or "(no log)" when it cannot be read: for error messages about a child process. */
export function logTail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') || '(no log)';
  } catch {
    return '(no log)';
  }
}
