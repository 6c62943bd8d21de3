/** Why the embedded PostgreSQL could not be had, in one line that says what to do. */
export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
}

/** The first `FATAL:` line PostgreSQL logged, without its timestamp. */
function fatalLine(log: readonly string[]): string | undefined {
  const line = log.flatMap((chunk) => chunk.split('\n')).find((l) => l.includes('FATAL:'));
  return line?.slice(line.indexOf('FATAL:') + 'FATAL:'.length).trim();
}

function advice(reason: string, port: number): string {
  if (/lock file "postmaster\.pid" already exists/.test(reason)) {
    return 'another PostgreSQL holds that folder (see its postmaster.pid) but does not let the app in: wait until it has started, stop it, or set DATABASE_URL';
  }
  if (/could not (bind|create any TCP\/IP sockets)|Address already in use|\.s\.PGSQL/.test(reason)) {
    return `port ${port} is taken: set EMBEDDED_PG_PORT to a free port, or DATABASE_URL`;
  }
  return 'set DATABASE_URL to use another PostgreSQL';
}

/** The error to report when starting the server failed with `error`, after logging `log`. */
export function startFailure(error: unknown, log: readonly string[], dir: string, port: number): EmbeddedPostgresError {
  const reason = fatalLine(log) ?? (error instanceof Error ? error.message.split('\n')[0] : 'the server stopped while starting');
  return new EmbeddedPostgresError(`Could not start the embedded PostgreSQL (data in ${dir}, port ${port}): ${reason}; ${advice(reason, port)}.`);
}
