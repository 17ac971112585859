/**
 * The one way to obtain a detector: by kind with an optional configuration, or restored from a
 * snapshot (then the snapshot's configuration is used and `config` is ignored).
 *
 * @example
 * const d = createDetector('resonance');
 * const s = d.score(Date.now(), 42); // in [0, 1]
 * const again = createDetector('resonance', undefined, JSON.parse(JSON.stringify(d.snapshot())));
 */
import { TwinloopError } from '../../core/errors/errors.js';
import { DETECTOR_KINDS, type AnomalyDetector, type DetectorKind } from './detector.js';
import { EwmaDetector } from './ewma-detector.js';
import { ResonanceDetector } from './resonance-detector.js';

/** @throws TwinloopError InvalidConfig for an unknown kind or a bad configuration, StorageCorrupt for a bad snapshot. */
export function createDetector(kind: DetectorKind, config?: unknown, snapshot?: unknown): AnomalyDetector {
  switch (kind) {
    case 'ewma':
      return new EwmaDetector(config, snapshot);
    case 'resonance':
      return new ResonanceDetector(config, snapshot);
    default:
      throw new TwinloopError(
        'InvalidConfig',
        `Unknown anomaly detector '${String(kind).slice(0, 40)}' (known: ${DETECTOR_KINDS.join(', ')}).`,
      );
  }
}
