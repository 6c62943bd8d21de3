import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { DatabaseMetrics } from './database-metrics.js';
import { HttpMetricsMiddleware } from './http-metrics.middleware.js';
import { MetricsController } from './metrics.controller.js';

/** `GET /metrics` (Prometheus text), HTTP request durations and the database pool's metrics. */
@Module({
  controllers: [MetricsController],
  providers: [DatabaseMetrics, HttpMetricsMiddleware],
})
export class MetricsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*path');
  }
}
