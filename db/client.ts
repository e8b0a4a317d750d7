import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema';

export type Database = PostgresJsDatabase<typeof schema>;

export interface DatabaseHandle {
  db: Database;
  sql: postgres.Sql;
  close(): Promise<void>;
}

/** One pool per process: the worker's activities and the API share it through their factories. */
export function connectDatabase(url: string, poolSize = 10): DatabaseHandle {
  const sql = postgres(url, {
    max: poolSize,
    onnotice: () => {},
    // Fail a connection attempt quickly so a retry (activity or API) can try again, instead of hanging.
    connect_timeout: 10,
  });
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}

export { schema };
