import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { SingleFlightModuleOptions } from './interfaces/single-flight-module-options.interface.js';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: SINGLE_FLIGHT_MODULE_OPTIONS,
  ASYNC_OPTIONS_TYPE,
  OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<SingleFlightModuleOptions>()
  .setClassMethodName('forRoot')
  // Global by default, as ScheduleModule and EventEmitterModule are: one registry per application.
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
