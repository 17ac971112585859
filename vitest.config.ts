import { defineConfig } from 'vitest/config';

// Two projects: `unit` (npm test) needs nothing but this machine's Node; `services`
// (npm run test:services) talks to the machine's PostgreSQL, Mosquitto, NATS, ...
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'web/src/**/*.test.ts'],
          exclude: ['**/*.svc.test.ts', 'node_modules/**', 'dist/**'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
          pool: 'forks',
        },
      },
      {
        test: {
          name: 'services',
          include: ['src/**/*.svc.test.ts', 'test/**/*.svc.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          pool: 'forks',
        },
      },
    ],
  },
});
