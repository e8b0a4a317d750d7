import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { applyMigrations, MIGRATIONS_FOLDER } from '../../db/migrate';
import { stackEnv } from '../support/stack-env';

/** Same server as DATABASE_URL, maintenance database: where test databases are created and dropped. */
function adminUrl(): string {
  const url = new URL(stackEnv().DATABASE_URL);
  url.pathname = '/postgres';
  return url.toString();
}

describe('PostgreSQL in the local stack', () => {
  const database = `migrations_test_${randomUUID().replace(/-/g, '')}`;
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  const url = (() => {
    const u = new URL(stackEnv().DATABASE_URL);
    u.pathname = `/${database}`;
    return u.toString();
  })();

  beforeAll(async () => {
    await admin.unsafe(`create database ${database}`);
  });

  afterAll(async () => {
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.end();
  });

  it('applies the migrations to a fresh database, and applying them again changes nothing', async () => {
    await applyMigrations(url);
    await applyMigrations(url);

    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const tables = (await sql<{ table_name: string }[]>`select table_name from information_schema.tables where table_schema = 'public'`).map((r) => r.table_name);
      expect(tables).toEqual(expect.arrayContaining(['products', 'checkouts', 'orders', 'order_lines', 'reservations', 'payments', 'refunds', 'users', 'sso_tokens', 'stripe_events']));
      const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
      const [applied] = await sql<{ count: number }[]>`select count(*)::int as count from drizzle.__drizzle_migrations`;
      expect(applied?.count).toBe(journal.entries.length);
    } finally {
      await sql.end();
    }
  });

  it('is the real server the stack started: listening on loopback, with the application database', async () => {
    const sql = postgres(stackEnv().DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ db: string; version: string; addr: string }[]>`select current_database() as db, version() as version, host(inet_server_addr()) as addr`;
      expect(row?.db).toBe('checkout_saga');
      expect(row?.version).toMatch(/^PostgreSQL 18\./);
      expect(row?.addr).toBe('127.0.0.1');
    } finally {
      await sql.end();
    }
  });
});
