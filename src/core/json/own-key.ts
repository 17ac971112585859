/**
 * Sets `name` on `o` as an own, enumerable data property, whatever the name: `__proto__` stays an
 * ordinary key (plain assignment would set the prototype instead). For objects built from names that
 * are data (telemetry names, derived values), kept as plain objects because V8 keeps them fast where
 * `Object.create(null)` starts as a dictionary.
 */
export function setOwnKey<T>(o: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__')
    Object.defineProperty(o, name, { value, enumerable: true, writable: true, configurable: true });
  else o[name] = value;
}
