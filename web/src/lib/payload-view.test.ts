import { describe, expect, it } from 'vitest';
import { payloadView } from './payload-view.js';

const b64 = (bytes: number[]) => Buffer.from(bytes).toString('base64');

describe('a dead letter payload as the page shows it', () => {
  it('shows UTF-8 text as it is, HTML included (as text, never markup)', () => {
    const v = payloadView({
      payload: '<img src=x onerror=alert(1)>',
      payloadEncoding: 'utf8',
      payloadBytes: 28,
    });
    expect(v).toEqual({ text: '<img src=x onerror=alert(1)>', badUtf8: false });
  });

  it('shows bad UTF-8 with replacement characters, a note and the hex of the bytes', () => {
    const v = payloadView({
      payload: b64([0x7b, 0xc3, 0x28, 0xff, 0x7d]),
      payloadEncoding: 'base64',
      payloadBytes: 5,
    });
    expect(v.badUtf8).toBe(true);
    expect(v.text).toBe('{\ufffd(\ufffd}');
    expect(v.hex).toBe('7b c3 28 ff 7d');
    expect(v.note).toMatch(/not valid UTF-8/);
  });

  it('cuts long payloads and says the sizes kept and received', () => {
    const v = payloadView(
      {
        payload: 'a'.repeat(16384),
        payloadEncoding: 'utf8',
        payloadBytes: 16384,
        payloadTruncated: true,
        receivedBytes: 20_000_000,
      },
      100,
    );
    expect(v.text).toHaveLength(100);
    expect(v.note).toBe(
      'showing the first 100 characters of 16,384 bytes kept; only the first 16,384 bytes were kept of 20,000,000 received',
    );
    const hex = payloadView({
      payload: b64(Array.from({ length: 100 }, () => 0xff)),
      payloadEncoding: 'base64',
      payloadBytes: 100,
    });
    expect(hex.hex!.endsWith(' …')).toBe(true);
  });

  it('survives a payload that is not base64 at all', () => {
    expect(payloadView({ payload: '%%%', payloadEncoding: 'base64', payloadBytes: 3 }).text).toBe('');
  });
});
