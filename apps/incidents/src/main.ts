import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createApp } from './bootstrap.js';
import { CACHE_BACKEND, type CacheBackend } from './cache/cache-backend.js';
import { describeFleet, singleFlightOptions } from './cache/single-flight-options.js';
import { ConfigError, configFromEnv, redact, type AppConfig } from './config/app-config.js';
import { resolveDatabaseOrExit } from './database/database-url.js';
import { seedIfEmpty } from './database/seed-incidents.js';

const logger = new Logger('Incidents');
let config: AppConfig;
try {
  config = configFromEnv();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  logger.error(`Bad configuration: ${error.message}`);
  process.exit(1);
}
if (!config.databaseUrl) logger.log('No DATABASE_URL: starting the embedded PostgreSQL (data in .embedded-pg/)');
const database = await resolveDatabaseOrExit(config, (line) => logger.error(line));

const app = await createApp({ ...config, databaseUrl: database.url });
logger.log(`Database: ${database.embedded ? 'embedded PostgreSQL' : 'PostgreSQL'}${database.alreadyRunning ? ' (already running)' : ''} at ${redact(database.url)}`);
const backend = app.get<CacheBackend>(CACHE_BACKEND);
logger.log(`Cache: ${backend.description}`);
logger.log(`Fleet: ${describeFleet(singleFlightOptions(config, backend))}`);
logger.log(`Single flight and caching: ${config.singleFlight ? 'on' : 'OFF (SINGLE_FLIGHT=off)'}`);
if (database.embedded) {
  const seeded = await seedIfEmpty(app.get(DataSource));
  if (seeded) logger.log(`Seeded the embedded database with ${seeded} incidents`);
}
await app.listen(config.port);
logger.log(`Listening on http://localhost:${config.port} (API docs at /docs, health at /health)`);
