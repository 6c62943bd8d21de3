import { readFileSync } from 'node:fs';

// The same swc settings as the build (.swcrc); Jest maps the @app/single-flight alias itself.
const { paths, baseUrl, ...jsc } = JSON.parse(readFileSync(new URL('./.swcrc', import.meta.url), 'utf8')).jsc;

// ESM mode: Nest 12 ships ES modules only (npm test sets --experimental-vm-modules).
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc, module: { type: 'es6' }, sourceMaps: 'inline', swcrc: false }] },
  moduleNameMapper: {
    '^@app/single-flight$': '<rootDir>/libs/single-flight/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  testTimeout: 30_000,
};
