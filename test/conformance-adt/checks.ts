/** Every check of the ADT conformance suite, in the order they run. */
import type { Check } from './harness.js';
import { apiVersionChecks, modelChecks } from './checks-models.js';
import { componentChecks, twinChecks } from './checks-twins.js';
import { relationshipChecks } from './checks-relationships.js';
import { queryChecks } from './checks-query.js';
import { eventRouteChecks, telemetryChecks } from './checks-telemetry-routes.js';
import { queryPagingChecks } from './checks-query-paging.js';
import { eventDeliveryChecks } from './checks-event-delivery.js';
import { errorChecks } from './checks-errors.js';
import { deleteJobChecks, importJobChecks } from './checks-jobs.js';

/** Every check in the order they run: delete jobs last, since they empty the instance. */
export const ALL_CHECKS: readonly Check[] = [
  ...apiVersionChecks,
  ...modelChecks,
  ...twinChecks,
  ...componentChecks,
  ...relationshipChecks,
  ...queryChecks,
  ...queryPagingChecks,
  ...telemetryChecks,
  ...eventRouteChecks,
  ...eventDeliveryChecks,
  ...errorChecks,
  ...importJobChecks,
  ...deleteJobChecks,
];
