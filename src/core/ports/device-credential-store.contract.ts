/**
 * The contract every DeviceCredentialStore adapter passes: call describeDeviceCredentialStoreContract
 * from the adapter's test file with a factory for a fresh, empty store.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeviceCredentialStore } from './device-credential-store.js';
import { parseDeviceToken } from './device-credential-store.js';

export interface DeviceCredentialStoreFixture {
  store: DeviceCredentialStore;
  /** Closes the current store and opens a new one on the same data. */
  reopen(): Promise<DeviceCredentialStore>;
  /** The stored rows as text, to check that no secret is kept in the clear. */
  dump(): string;
  cleanup(): Promise<void>;
}

export function describeDeviceCredentialStoreContract(
  name: string,
  make: () => Promise<DeviceCredentialStoreFixture>,
): void {
  describe(`DeviceCredentialStore contract: ${name}`, () => {
    let fx: DeviceCredentialStoreFixture;
    let store: DeviceCredentialStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('issues a random token once, verifies it to its twin, keeps only a digest, across reopen', async () => {
      const a = store.create({ workspace: 'w', twinId: 'pump-1', label: 'gateway 3' });
      const b = store.create({ workspace: 'w', twinId: 'pump-1' });
      expect(a.token).not.toBe(b.token);
      expect(parseDeviceToken(a.token)?.id).toBe(a.credential.id);
      expect(a.credential).toMatchObject({ workspace: 'w', twinId: 'pump-1', label: 'gateway 3' });
      expect(store.verify(a.token)).toEqual(a.credential);
      expect(fx.dump()).not.toContain(parseDeviceToken(a.token)!.secret);
      store = await fx.reopen();
      expect(store.verify(a.token)).toEqual(a.credential);
      expect(store.verify(b.token)).toEqual(b.credential);
      expect(store.list('w').map((c) => c.id)).toEqual([a.credential.id, b.credential.id]);
      expect(store.list('w', 'pump-1')).toHaveLength(2);
      expect(store.list('w', 'pump-2')).toEqual([]);
      expect(store.list('other')).toEqual([]);
    });

    it('refuses altered, foreign and malformed tokens (property)', () => {
      const issued = store.create({ workspace: 'w', twinId: 't' });
      const { id, secret } = parseDeviceToken(issued.token)!;
      const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      for (let i = 0; i < secret.length; i += 7) {
        expect(store.verify(`tldc_${id}_${flip(secret, i)}`)).toBeUndefined();
      }
      expect(store.verify(`tldc_dc_0000000000000000_${secret}`)).toBeUndefined();
      fc.assert(
        fc.property(fc.string({ maxLength: 120 }), (t) => {
          if (t !== issued.token) expect(store.verify(t)).toBeUndefined();
        }),
        { numRuns: 200 },
      );
      expect(store.verify(issued.token)?.id).toBe(id);
    });

    it('revokes one credential, or every credential of a twin, within its workspace only', () => {
      const a = store.create({ workspace: 'w', twinId: 'pump-1' });
      const b = store.create({ workspace: 'w', twinId: 'pump-1' });
      const c = store.create({ workspace: 'w', twinId: 'pump-2' });
      expect(store.revoke('other', a.credential.id)).toBe(false);
      expect(store.verify(a.token)).toBeDefined();
      expect(store.revoke('w', a.credential.id)).toBe(true);
      expect(store.revoke('w', a.credential.id)).toBe(false);
      expect(store.verify(a.token)).toBeUndefined();
      expect(store.revokeTwin('w', 'pump-1')).toBe(1);
      expect(store.verify(b.token)).toBeUndefined();
      expect(store.verify(c.token)).toEqual(c.credential);
    });
  });
}
