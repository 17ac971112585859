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
  dump(): Promise<string>;
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
      const a = await store.create({ workspace: 'w', twinId: 'pump-1', label: 'gateway 3' });
      const b = await store.create({ workspace: 'w', twinId: 'pump-1' });
      expect(a.token).not.toBe(b.token);
      expect(parseDeviceToken(a.token)?.id).toBe(a.credential.id);
      expect(a.credential).toMatchObject({ workspace: 'w', twinId: 'pump-1', label: 'gateway 3' });
      expect(await store.verify(a.token)).toEqual(a.credential);
      expect(await fx.dump()).not.toContain(parseDeviceToken(a.token)!.secret);
      store = await fx.reopen();
      expect(await store.verify(a.token)).toEqual(a.credential);
      expect(await store.verify(b.token)).toEqual(b.credential);
      expect((await store.list('w')).map((c) => c.id)).toEqual([a.credential.id, b.credential.id]);
      expect(await store.list('w', 'pump-1')).toHaveLength(2);
      expect(await store.list('w', 'pump-2')).toEqual([]);
      expect(await store.list('other')).toEqual([]);
    });

    it('refuses altered, foreign and malformed tokens (property)', async () => {
      const issued = await store.create({ workspace: 'w', twinId: 't' });
      const { id, secret } = parseDeviceToken(issued.token)!;
      const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
      for (let i = 0; i < secret.length; i += 7) {
        expect(await store.verify(`tldc_${id}_${flip(secret, i)}`)).toBeUndefined();
      }
      expect(await store.verify(`tldc_dc_0000000000000000_${secret}`)).toBeUndefined();
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 120 }), async (t) => {
          if (t !== issued.token) expect(await store.verify(t)).toBeUndefined();
        }),
        { numRuns: 200 },
      );
      expect((await store.verify(issued.token))?.id).toBe(id);
    });

    it('revokes one credential, or every credential of a twin, within its workspace only', async () => {
      const a = await store.create({ workspace: 'w', twinId: 'pump-1' });
      const b = await store.create({ workspace: 'w', twinId: 'pump-1' });
      const c = await store.create({ workspace: 'w', twinId: 'pump-2' });
      expect(await store.revoke('other', a.credential.id)).toBe(false);
      expect(await store.verify(a.token)).toBeDefined();
      expect(await store.revoke('w', a.credential.id)).toBe(true);
      expect(await store.revoke('w', a.credential.id)).toBe(false);
      expect(await store.verify(a.token)).toBeUndefined();
      expect(await store.revokeTwin('w', 'pump-1')).toBe(1);
      expect(await store.verify(b.token)).toBeUndefined();
      expect(await store.verify(c.token)).toEqual(c.credential);
    });

    it('keeps SQL metacharacters and odd unicode in ids and labels as given', async () => {
      const evil = "'; DROP TABLE device_credentials; --";
      const a = await store.create({ workspace: evil, twinId: evil, label: 'l\u202e\u{1F600}"\\' });
      expect(await store.verify(a.token)).toEqual(a.credential);
      expect(a.credential).toMatchObject({ workspace: evil, twinId: evil, label: 'l\u202e\u{1F600}"\\' });
      expect((await store.list(evil, evil)).map((c) => c.id)).toEqual([a.credential.id]);
      expect(await store.revokeTwin(evil, evil)).toBe(1);
      const b = await store.create({ workspace: 'w', twinId: 't' });
      expect(await store.verify(b.token)).toEqual(b.credential); // the table is still there
    });

    it('exports credentials with their digests and imports them elsewhere: old tokens still verify', async () => {
      const evil = "'; DROP TABLE device_credentials; --";
      const a = await store.create({ workspace: evil, twinId: '__proto__', label: 'gateway \u{1F600}' });
      const b = await store.create({ workspace: evil, twinId: 'pump-2' });
      const other = await store.create({ workspace: 'other', twinId: 'x' });
      const exported = await store.exportCredentials(evil);
      expect(exported.map((r) => r.id)).toEqual([a.credential.id, b.credential.id]);
      expect(exported[0]).toMatchObject(a.credential);
      expect(exported[0]!.digest).toHaveLength(32);
      expect(await fx.dump()).not.toContain(parseDeviceToken(a.token)!.secret);
      // Gone from the store, then brought back from the export: the device's token works again.
      expect(await store.revokeTwin(evil, '__proto__')).toBe(1);
      expect(await store.revokeTwin(evil, 'pump-2')).toBe(1);
      expect(await store.verify(a.token)).toBeUndefined();
      await store.importCredentials(exported);
      expect(await store.verify(a.token)).toEqual(a.credential);
      expect(await store.verify(b.token)).toEqual(b.credential);
      expect(await store.list(evil)).toEqual([a.credential, b.credential]);
      expect(await store.verify(other.token)).toEqual(other.credential);
      await store.importCredentials([]);
    });

    it('an import is all or nothing: a taken id is a Conflict, a bad digest a BadRequest', async () => {
      const a = await store.create({ workspace: 'w', twinId: 't' });
      const [rec] = await store.exportCredentials('w');
      const fresh = { ...rec!, id: 'dc_00000000000000aa', twinId: 't2' };
      await expect(store.importCredentials([fresh, rec!])).rejects.toMatchObject({ code: 'Conflict' });
      expect((await store.list('w')).map((c) => c.id)).toEqual([a.credential.id]);
      await expect(store.importCredentials([{ ...fresh, digest: Buffer.alloc(31) }])).rejects.toMatchObject({
        code: 'BadRequest',
      });
      await expect(store.importCredentials([{ ...fresh, id: "x'; --" }])).rejects.toMatchObject({
        code: 'BadRequest',
      });
      expect(await store.list('w', 't2')).toEqual([]);
    });

    it('a NUL byte in a twin id or label is kept or refused with a catalogue error, never a crash', async () => {
      for (const input of [
        { workspace: 'w', twinId: 'a\u0000b' },
        { workspace: 'w', twinId: 't', label: 'x\u0000y' },
      ]) {
        try {
          const issued = await store.create(input);
          expect(await store.verify(issued.token)).toEqual(issued.credential);
        } catch (e) {
          expect(['BadRequest', 'StorageError']).toContain((e as { code?: string }).code);
          expect((e as Error).message).toMatch(/NUL|0x00|\\u0000/);
        }
      }
      expect(await store.verify('tldc_dc_0000000000000000_\u0000')).toBeUndefined();
    });
  });
}
