// npm run seed [-- --count 50000]: replaces every incident with the deterministic seed,
// in DATABASE_URL or in the embedded PostgreSQL.
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { configFromEnv, redact } from '../config/app-config.js';
import { entities, migrations } from '../database/database.module.js';
import { resolveDatabase } from '../database/database-url.js';
import { DEFAULT_SEED_COUNT, seedIncidents } from '../database/seed-incidents.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: String(DEFAULT_SEED_COUNT) } } });
const count = Number(values.count);
if (!Number.isInteger(count) || count < 0) {
  console.error(`--count must be a whole number, got "${values.count}"`);
  process.exit(2);
}

const database = await resolveDatabase(configFromEnv());
const dataSource = new DataSource({ type: 'postgres', url: database.url, entities, migrations });
try {
  await dataSource.initialize();
  await dataSource.runMigrations();
  console.log(`Seeding ${count} incidents into ${redact(database.url)}`);
  await seedIncidents(dataSource, count, (done) => process.stdout.write(`\r  ${done} / ${count}`));
  console.log('\nDone.');
} finally {
  await dataSource.destroy();
  await database.stop();
}
