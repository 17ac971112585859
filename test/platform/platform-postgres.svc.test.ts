/**
 * The platform on PostgreSQL (`--store postgres://…`): the same core loop suite as the embedded
 * store, on a schema of its own, dropped at the end.
 */
import { dropSchema, freshSchemaName, pgTestUrl } from '../../src/adapters/postgres/pg-test-fixture.js';
import { coreLoopSuite } from './core-loop-suite.js';

const schema = freshSchemaName();

coreLoopSuite(
  'the core loop on PostgreSQL',
  () => {
    const url = new URL(pgTestUrl());
    url.searchParams.set('schema', schema);
    return { store: url.toString() };
  },
  () => dropSchema(schema),
);
