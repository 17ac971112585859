/**
 * The version of the code that runs, stored with every trained model (docs/ml-models.md): the
 * package version, plus the git commit when the code runs from a git checkout (`0.1.0+6829d5d`).
 * Read from files only (package.json, .git's HEAD and refs; worktrees and packed refs included), once.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The folder holding Twinloop's package.json, from a file inside it. */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const text = read(path.join(dir, 'package.json'));
    if (text && /"name"\s*:\s*"twinloop"/.test(text)) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The commit checked out at `root` (12 hex), undefined when it is not a git checkout. */
export function gitCommit(root: string): string | undefined {
  const dotGit = path.join(root, '.git');
  if (!existsSync(dotGit)) return undefined;
  let gitDir = dotGit;
  if (statSync(dotGit).isFile()) {
    const m = /^gitdir:\s*(.+)$/m.exec(read(dotGit) ?? '');
    if (!m) return undefined;
    gitDir = path.resolve(root, m[1]!.trim());
  }
  const common = path.resolve(gitDir, (read(path.join(gitDir, 'commondir')) ?? '.').trim());
  const head = (read(path.join(gitDir, 'HEAD')) ?? '').trim();
  const sha = (s: string | undefined) =>
    s && /^[0-9a-f]{40}$/.test(s.trim()) ? s.trim().slice(0, 12) : undefined;
  if (!head.startsWith('ref:')) return sha(head);
  const ref = head.slice(4).trim();
  if (!/^refs\/[\w./-]+$/.test(ref) || ref.includes('..')) return undefined;
  const loose = sha(read(path.join(gitDir, ref))) ?? sha(read(path.join(common, ref)));
  if (loose) return loose;
  for (const line of (read(path.join(common, 'packed-refs')) ?? '').split('\n')) {
    const [s, name] = line.split(' ');
    if (name === ref) return sha(s);
  }
  return undefined;
}

let cached: string | undefined;

/** `<package version>[+<commit>]`, e.g. `0.1.0+6829d5d1a2b3`; `unknown` when no package.json is found. */
export function codeVersion(): string {
  if (cached !== undefined) return cached;
  const root = packageRoot();
  let version = 'unknown';
  if (root) {
    try {
      version = String(
        (JSON.parse(read(path.join(root, 'package.json')) ?? '{}') as { version?: unknown }).version ??
          'unknown',
      );
    } catch {
      // keep 'unknown'
    }
    const commit = gitCommit(root);
    if (commit) version += `+${commit}`;
  }
  cached = version;
  return version;
}
