/**
 * The dead letter of a device's control message (a command answer, a reported state, a connection
 * message) that cannot be taken: kept whole with its code and reason for an operator to see.
 */
import type { Problem } from '../errors/errors.js';
import type { DeviceControlMessage } from '../ports/device-channel.js';
import type { DeadLetter } from '../ports/storage-ports.js';

export function deviceDeadLetter(
  workspace: string,
  m: DeviceControlMessage,
  twinId: string | undefined,
  code: string,
  reason: string,
  problems: readonly Problem[] = [],
): DeadLetter {
  return {
    workspace,
    time: m.receivedAt,
    source: 'mqtt',
    topic: m.topic,
    ...(m.clientId !== undefined ? { clientId: m.clientId } : {}),
    ...(twinId !== undefined ? { twinId } : {}),
    payload: m.payload,
    code,
    reason,
    ...(problems.length
      ? {
          problems: problems.map((p) => ({
            code: p.code,
            message: p.message,
            ...(p.pointer === undefined ? {} : { pointer: p.pointer }),
          })),
        }
      : {}),
  };
}
