/**
 * `twinloop scene generate --pilot P [--out DIR] [--check]` (docs/scenes.md): lays out a 3D scene
 * from the pilot's twin graph and writes `scene/<pilot>.glb` and `scene/<pilot>.binding.json` into
 * the pilot's folder (or --out). `--check` writes nothing and fails when the files there differ
 * from what the generator makes now (the pilot changed; run it again). Works offline.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { resolvePilotDir } from '../pilot-files.js';
import { generatePilotScene, sceneFiles, writePilotScene } from '../pilot-scenes.js';
import type { CliKit } from './cli-kit.js';

export function registerScene(program: Command, { run }: CliKit): void {
  const scene = program.command('scene').description('3D scenes of a pilot (docs/scenes.md)');
  scene
    .command('generate')
    .description("lay out a 3D scene from a pilot's twin graph: <pilot>/scene/<name>.glb and .binding.json")
    .requiredOption('--pilot <nameOrPath>', 'a shipped pilot (pump-line, ev-fleet) or a pilot folder')
    .option('--out <dir>', "where to write (default: the pilot's scene/ folder)")
    .option('--check', 'write nothing; fail when the files differ from what would be generated')
    .action(
      run(async (o: { pilot: string; out?: string; check?: boolean }) => {
        const dir = o.out ?? path.join(resolvePilotDir(o.pilot), 'scene');
        if (o.check) {
          const stale: string[] = [];
          for (const [name, bytes] of sceneFiles(generatePilotScene(o.pilot))) {
            const file = path.join(dir, name);
            if (!existsSync(file) || !Buffer.from(bytes).equals(readFileSync(file))) stale.push(file);
          }
          for (const f of stale) process.stdout.write(`differs: ${f}\n`);
          process.stdout.write(
            stale.length ? 'the scene files are out of date\n' : 'the scene files are up to date\n',
          );
          if (stale.length) process.exitCode = 1;
          return;
        }
        for (const f of writePilotScene(o.pilot, dir)) process.stdout.write(`wrote ${f}\n`);
      }),
    );
}
