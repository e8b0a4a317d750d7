import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: ['./db/schema.ts', './db/order-history-schema.ts', './db/notifications-schema.ts'],
  out: './db/migrations',
});
