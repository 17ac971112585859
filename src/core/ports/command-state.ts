/** The states of a command (docs/control.md; the lifecycle is in command-store.ts). No imports: live events use it. */
export type CommandState =
  'queued' | 'sent' | 'acknowledged' | 'succeeded' | 'failed' | 'expired' | 'cancelled';

/** Every state, in lifecycle order. */
export const COMMAND_STATES: readonly CommandState[] = [
  'queued',
  'sent',
  'acknowledged',
  'succeeded',
  'failed',
  'expired',
  'cancelled',
];
