import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { createApp } from './bootstrap.js';
import { ConfigError, configFromEnv, redact, type AppConfig } from './config/app-config.js';
import { resolveDatabase } from './database/database-url.js';
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
const database = await resolveDatabase(config);

const app = await createApp({ ...config, databaseUrl: database.url });
logger.log(`Database: ${database.embedded ? 'embedded PostgreSQL' : 'PostgreSQL'} at ${redact(database.url)}`);
logger.log(`Cache: ${config.redisUrl ? `Redis at ${redact(config.redisUrl)}` : 'in-memory store (set REDIS_URL to share it between instances)'}`);
logger.log(`Single flight and caching: ${config.singleFlight ? 'on' : 'OFF (SINGLE_FLIGHT=off)'}`);
if (database.embedded) {
  const seeded = await seedIfEmpty(app.get(DataSource));
  if (seeded) logger.log(`Seeded the embedded database with ${seeded} incidents`);
}
await app.listen(config.port);
logger.log(`Listening on http://localhost:${config.port} (API docs at /docs, health at /health)`);
