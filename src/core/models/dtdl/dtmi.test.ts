import { describe, it, expect } from 'vitest';
import { dtmiVersion, isSameOrLaterVersion } from './dtmi.js';

describe('DTMI versions', () => {
  it('reads major and minor versions', () => {
    expect(dtmiVersion('dtmi:ex:a;3')).toEqual([3, 0]);
    expect(dtmiVersion('dtmi:ex:a;3.12')).toEqual([3, 12]);
    expect(dtmiVersion('dtmi:ex:a')).toBeUndefined();
    expect(dtmiVersion('dtmi:ex:a;x')).toBeUndefined();
  });

  it('same or later version of the same model id (IS_OF_MODEL)', () => {
    expect(isSameOrLaterVersion('dtmi:ex:a;4', 'dtmi:ex:a;4')).toBe(true);
    expect(isSameOrLaterVersion('dtmi:ex:a;10', 'dtmi:ex:a;9')).toBe(true); // numeric, not text order
    expect(isSameOrLaterVersion('dtmi:ex:a;9', 'dtmi:ex:a;10')).toBe(false);
    expect(isSameOrLaterVersion('dtmi:ex:a;4.2', 'dtmi:ex:a;4.1')).toBe(true);
    expect(isSameOrLaterVersion('dtmi:ex:a;4', 'dtmi:ex:a;4.1')).toBe(false);
    expect(isSameOrLaterVersion('dtmi:ex:ab;5', 'dtmi:ex:a;4')).toBe(false);
    expect(isSameOrLaterVersion('dtmi:ex:a:b;5', 'dtmi:ex:a;4')).toBe(false);
    expect(isSameOrLaterVersion('dtmi:ex:a;2', 'dtmi:ex:a')).toBe(true); // unversioned: any version
    expect(isSameOrLaterVersion('dtmi:ex:a', 'dtmi:ex:a;1')).toBe(false);
    expect(isSameOrLaterVersion('dtmi:ex:a', 'dtmi:ex:a')).toBe(true);
    expect(isSameOrLaterVersion('dtmi:ex:a;5', 'dtmi:ex:a;junk')).toBe(false);
  });
});
