import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeVersion, gitCommit, packageRoot } from './code-version.js';

describe('codeVersion', () => {
  it('is the package version plus the checked-out commit', () => {
    const root = packageRoot()!;
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    expect(codeVersion()).toBe(`0.1.0+${head.slice(0, 12)}`);
  });

  it('reads a plain .git folder, a packed ref and a detached HEAD; nothing for a bad HEAD', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'twinloop-git-'));
    try {
      const sha = 'a'.repeat(40);
      mkdirSync(path.join(dir, '.git'));
      writeFileSync(path.join(dir, '.git/HEAD'), 'ref: refs/heads/main\n');
      writeFileSync(path.join(dir, '.git/packed-refs'), `# pack-refs\n${sha} refs/heads/main\n`);
      expect(gitCommit(dir)).toBe('a'.repeat(12));
      writeFileSync(path.join(dir, '.git/HEAD'), `${'b'.repeat(40)}\n`);
      expect(gitCommit(dir)).toBe('b'.repeat(12));
      writeFileSync(path.join(dir, '.git/HEAD'), 'ref: ../../etc/passwd\n');
      expect(gitCommit(dir)).toBeUndefined();
      expect(gitCommit(path.join(dir, 'none'))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
