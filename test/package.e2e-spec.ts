import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

// The library as a package: what `npm run pack:lib` puts in the tarball, and that its build loads as plain ESM.
describe('the nestjs-single-flight package', () => {
  it('packs the build, its README and its LICENSE (prepack builds it)', async () => {
    const { stdout } = await run('npm', ['pack', './libs/single-flight', '--dry-run', '--json'], { maxBuffer: 10_000_000 });
    const [{ name, files }] = JSON.parse(stdout) as { name: string; files: { path: string }[] }[];
    const paths = files.map((file) => file.path);
    expect(name).toBe('nestjs-single-flight');
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.d.ts']));
    expect(paths.filter((path) => path.includes('.spec.'))).toEqual([]);
  }, 60_000);

  it('loads outside this monorepo’s aliases, exporting the public API only', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', "const m = await import('./libs/single-flight/dist/index.js'); console.log(Object.keys(m).sort().join(','))"]);
    expect(stdout.trim()).toBe('CacheEvict,CacheKeyError,Cached,CachedInterceptor,FlightRegistry,FlightTimeoutError,INSTRUMENTATION_SCOPE,InvalidationError,SingleFlight,SingleFlightConfigError,SingleFlightModule,SingleFlightStats,devalueSerializer');
  }, 60_000);
});
