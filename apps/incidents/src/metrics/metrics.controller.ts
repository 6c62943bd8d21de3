import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { prometheusExporter } from './prometheus-exporter.js';

/** Prometheus text format: the library's metrics (singleflight_*), HTTP and the database pool's. */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  @Get()
  scrape(@Req() request: IncomingMessage, @Res() response: ServerResponse): void {
    prometheusExporter().getMetricsRequestHandler(request, response);
  }
}
