import { describe, expect, it } from 'vitest';
import { setOwnKey } from './own-key.js';

describe('setOwnKey', () => {
  it('keeps __proto__, constructor and prototype as own data keys and leaves the prototype alone', () => {
    const o: Record<string, number> = {};
    setOwnKey(o, '__proto__', 1);
    setOwnKey(o, 'constructor', 2);
    setOwnKey(o, 'prototype', 3);
    setOwnKey(o, 'a', 4);
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.keys(o)).toEqual(['__proto__', 'constructor', 'prototype', 'a']);
    expect(Object.getOwnPropertyDescriptor(o, '__proto__')?.value).toBe(1);
    expect(JSON.parse(JSON.stringify(o))).toEqual(
      JSON.parse('{"__proto__":1,"constructor":2,"prototype":3,"a":4}'),
    );
    expect(({} as Record<string, unknown>)['a']).toBeUndefined();
  });

  it('overwrites an own __proto__ key again as data', () => {
    const o: Record<string, number> = {};
    setOwnKey(o, '__proto__', 1);
    setOwnKey(o, '__proto__', 5);
    expect(Object.getOwnPropertyDescriptor(o, '__proto__')?.value).toBe(5);
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
  });
});
