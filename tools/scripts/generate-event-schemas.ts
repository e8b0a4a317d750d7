import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { eventJsonSchemas } from '../../src/events/schemas';

/**
 * Writes src/events/json-schema/<type>.json from the zod schemas of src/events/schemas.ts:
 * `npx tsx tools/scripts/generate-event-schemas.ts`. The files are committed so another team can read
 * the contract without running TypeScript; test/consumers/event-contract.test.ts fails when they
 * are stale, so run this after every change to the schemas.
 */

export const JSON_SCHEMA_DIR = path.resolve(__dirname, '../../src/events/json-schema');

/** File name -> content, exactly as committed (2-space JSON, trailing newline). */
export function renderEventJsonSchemaFiles(): Record<string, string> {
  return Object.fromEntries(Object.entries(eventJsonSchemas()).map(([type, schema]) => [`${type}.json`, `${JSON.stringify(schema, null, 2)}\n`]));
}

function main(): void {
  mkdirSync(JSON_SCHEMA_DIR, { recursive: true });
  const files = renderEventJsonSchemaFiles();
  // A type removed from the contract must not leave its old schema behind.
  for (const existing of readdirSync(JSON_SCHEMA_DIR)) {
    if (existing.endsWith('.json') && !(existing in files)) rmSync(path.join(JSON_SCHEMA_DIR, existing));
  }
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(JSON_SCHEMA_DIR, name), content);
  process.stdout.write(`wrote ${Object.keys(files).length} JSON Schemas to ${path.relative(process.cwd(), JSON_SCHEMA_DIR)}\n`);
}

if (require.main === module) main();
