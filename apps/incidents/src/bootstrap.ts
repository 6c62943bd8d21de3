import 'reflect-metadata';
import type { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule, type ResolvedConfig } from './app.module.js';
import { DatabaseUnavailableFilter } from './http/database-unavailable.filter.js';
import { JSON_BODY_LIMIT, MAX_JSON_DEPTH, useJsonBodies, type JsonBodyLimits } from './http/json-body.js';
import { StrictValidationPipe } from './http/strict-validation.pipe.js';
import { prometheusExporter } from './metrics/prometheus-exporter.js';

export interface HttpOptions {
  /** Body size and depth limits; only the body-attack bench loosens them, to show what they prevent. */
  jsonBody?: JsonBodyLimits;
}

/** The app as `npm start`, the demo and the end-to-end tests run it. */
export async function createApp(
  config: ResolvedConfig,
  logger: LogLevel[] | false = ['log', 'warn', 'error'],
  { jsonBody = { limit: JSON_BODY_LIMIT, maxDepth: MAX_JSON_DEPTH } }: HttpOptions = {},
): Promise<NestExpressApplication> {
  // Before the application: the library takes its meter as it starts.
  prometheusExporter();
  // No default parsers: JSON only, within limits (useJsonBodies); a form body is a 415.
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), { logger, bodyParser: false });
  useJsonBodies(app, jsonBody);
  app.useGlobalFilters(new DatabaseUnavailableFilter(app.getHttpAdapter()));
  app.useGlobalPipes(
    new StrictValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true, // an unknown field is a 400 naming it, not silently dropped
      transform: true,
      stopAtFirstError: true, // one message per field, the most basic one
    }),
  );
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Incidents')
      .setDescription('Incident events, read through @Cached + @SingleFlight')
      .setVersion('0.1.0')
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  app.enableShutdownHooks();
  return app;
}
