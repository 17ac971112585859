import { describe, expect, it } from 'vitest';
import { checkEndpoint, endpointView, MAX_EMAIL_RECIPIENTS } from './endpoint-spec.js';

const pointers = (r: ReturnType<typeof checkEndpoint>): string[] =>
  'problems' in r ? r.problems.map((p) => p.pointer ?? '') : [];

describe('email endpoints', () => {
  it('takes an SMTP URL, a sender, recipients and a login whose password is the secret', () => {
    const r = checkEndpoint({
      type: 'email',
      url: 'smtps://mail.example.com:465',
      from: 'twinloop@example.com',
      to: ['ops@example.com', 'a.b+alarms@plant.example.org'],
      auth: { user: 'alerts', value: 'pw' },
    });
    expect(r).toEqual({
      spec: {
        type: 'email',
        url: 'smtps://mail.example.com:465',
        from: 'twinloop@example.com',
        to: ['ops@example.com', 'a.b+alarms@plant.example.org'],
        authUser: 'alerts',
      },
      secret: 'pw',
    });
    if (!('spec' in r)) throw new Error('unreachable');
    expect(endpointView('mail', r.spec, true, 'api')).toMatchObject({
      auth: { user: 'alerts', value: '(secret)' },
    });
    expect(JSON.stringify(endpointView('mail', r.spec, true, 'api'))).not.toContain('pw"');
  });

  it('reports every problem with its pointer: header injection, lists, URLs with credentials, unknown members', () => {
    const r = checkEndpoint({
      type: 'email',
      url: 'smtp://user:pw@mail.example.com',
      from: 'twinloop@example.com\r\nBcc: thief@example.com',
      to: ['ok@example.com', 'not an address', 42],
      auth: { user: 'a\nb', extra: 1 },
      bcc: ['x@example.com'],
    });
    expect(pointers(r).sort()).toEqual(
      ['/auth/extra', '/auth/user', '/bcc', '/from', '/to/1', '/to/2', '/url'].sort(),
    );
    expect(
      pointers(checkEndpoint({ type: 'email', url: 'http://x', from: 'a@example.com', to: [] })).sort(),
    ).toEqual(['/to', '/url'].sort());
    const many = Array.from({ length: MAX_EMAIL_RECIPIENTS + 1 }, (_, i) => `u${i}@example.com`);
    expect(
      pointers(checkEndpoint({ type: 'email', url: 'smtp://m', from: 'a@example.com', to: many })),
    ).toEqual(['/to']);
  });

  it('treats __proto__ and other hostile keys as unknown members, never as settings', () => {
    const body = JSON.parse(
      '{"type":"email","url":"smtp://m","from":"a@example.com","to":["b@example.com"],"__proto__":{"authUser":"x"},"constructor":1}',
    ) as unknown;
    const r = checkEndpoint(body);
    expect(pointers(r).sort()).toEqual(['/__proto__', '/constructor']);
  });
});
