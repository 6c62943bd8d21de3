import { Logger } from '@nestjs/common';

/**
 * Collects what Nest loggers warn (and report as errors) during each test of the calling file,
 * instead of printing it. Registers its own beforeAll/afterAll/beforeEach hooks.
 */
export function captureWarnings(): string[] {
  const warnings: string[] = [];
  const { warn, error } = Logger.prototype;
  beforeAll(() => {
    Logger.prototype.warn = Logger.prototype.error = (message: unknown) => void warnings.push(String(message));
  });
  afterAll(() => Object.assign(Logger.prototype, { warn, error }));
  beforeEach(() => (warnings.length = 0));
  return warnings;
}

/** The warnings that name `where` (`Class.method`). */
export const warningsNaming = (warnings: readonly string[], where: string): string[] => warnings.filter((w) => w.includes(where));
