import { Logger } from '@nestjs/common';
import { createApp } from './bootstrap.js';
import { configFromEnv, redact } from './config/app-config.js';
import { startEmbeddedPostgres } from './database/embedded-postgres.js';
import { seedIfEmpty } from './database/seed-incidents.js';
import { DataSource } from 'typeorm';

const logger = new Logger('Incidents');
const config = configFromEnv();
const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres();
const databaseUrl = config.databaseUrl ?? embedded!.url;

const app = await createApp({ ...config, databaseUrl });
logger.log(`Database: ${embedded ? `embedded PostgreSQL in .embedded-pg (set DATABASE_URL to use your own) at ${redact(databaseUrl)}` : redact(databaseUrl)}`);
logger.log(`Cache: ${config.redisUrl ? `Redis at ${redact(config.redisUrl)}` : 'in-memory store (set REDIS_URL to share it between instances)'}`);
logger.log(`Single flight and caching: ${config.singleFlight ? 'on' : 'OFF (SINGLE_FLIGHT=off)'}`);
if (embedded) {
  const seeded = await seedIfEmpty(app.get(DataSource));
  if (seeded) logger.log(`Seeded the embedded database with ${seeded} incidents`);
  process.once('beforeExit', () => void embedded.stop());
}
await app.listen(config.port);
logger.log(`Listening on http://localhost:${config.port} (API docs at /docs, health at /health)`);
