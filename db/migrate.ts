import path from 'node:path';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { connectDatabase } from './client';

export const MIGRATIONS_FOLDER = path.resolve(__dirname, 'migrations');

/**
 * Applies drizzle-kit's generated SQL migrations. Safe to run on every start: applied migrations
 * are recorded in drizzle.__drizzle_migrations and skipped, and concurrent runs serialise on an
 * advisory lock so two processes starting together never apply one twice.
 */
export async function applyMigrations(databaseUrl: string): Promise<void> {
  const handle = connectDatabase(databaseUrl, 1);
  try {
    await handle.sql`select pg_advisory_lock(7260312)`;
    try {
      await migrate(handle.db, { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await handle.sql`select pg_advisory_unlock(7260312)`;
    }
  } finally {
    await handle.close();
  }
}
