import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, parseConfig } from '../src/config';
import { EVENT_TOPIC_RETENTION_MS } from '../src/kafka/topics';
import { KAFKA_VERSION } from '../tools/stack/kafka';
import { SEARCH_ATTRIBUTES } from '../tools/stack/temporal';

/**
 * docker-compose.yml cannot be started on the build machines (no Docker engine), so this checks it
 * against the code instead: a variable the service does not read, a wrong host, a missing search
 * attribute or topic would otherwise only show up in a deployment.
 */

const ROOT = path.resolve(__dirname, '..');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string | string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
}

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;
const service = (name: string): ComposeService => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
};
const commandText = (s: ComposeService) => (Array.isArray(s.command) ? s.command.join(' ') : (s.command ?? ''));

/** What `docker compose` does with `${VAR:?msg}` and `${VAR:-default}`, given values for the required ones. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_, name: string, kind?: string, rest?: string) => {
    if (given[name] !== undefined) return given[name];
    if (kind === '-') return rest ?? '';
    throw new Error(`${name} is required (${rest ?? 'no message'}) and the test gave no value`);
  });
}

const DEPLOYMENT_VALUES = {
  POSTGRES_PASSWORD: 'pg-secret',
  STRIPE_SECRET_KEY: 'sk_live_51Abcdefghijklmnop',
  STRIPE_WEBHOOK_SECRET: 'whsec_0123456789abcdef0123456789abcdef',
  SSO_SECRET: 'a-deployment-secret-of-more-than-32-characters',
  SMTP_URL: 'smtp://mailer:secret@smtp.example.com:587',
};
const serviceEnv = (name: string) => Object.fromEntries(Object.entries(service(name).environment ?? {}).map(([k, v]) => [k, interpolate(String(v), DEPLOYMENT_VALUES)]));

describe('docker-compose.yml', () => {
  it('describes the whole topology: databases, Temporal (+ UI, search attributes), Kafka (+ topics), migrations, API, worker and consumers', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'consumers', 'kafka', 'kafka-topics-init', 'migrate', 'postgres', 'temporal', 'temporal-postgres', 'temporal-search-attributes', 'temporal-ui', 'worker'].sort(),
    );
  });

  it('uses official images, with the same Temporal and Kafka versions as the local stack', () => {
    expect(service('postgres').image).toMatch(/^postgres:\d+$/);
    expect(service('temporal-postgres').image).toMatch(/^postgres:\d+$/);
    expect(service('temporal').image).toBe('temporalio/auto-setup:1.29.1');
    expect(service('temporal-search-attributes').image).toMatch(/^temporalio\/admin-tools:1\.29\.1-/);
    expect(service('temporal-ui').image).toBe('temporalio/ui:2.42.1');
    expect(service('kafka').image).toBe(`apache/kafka:${KAFKA_VERSION}`);
    expect(service('kafka-topics-init').image).toBe(`apache/kafka:${KAFKA_VERSION}`);
  });

  it('builds the API, worker and migration job from the Dockerfile, on Node 24', () => {
    for (const name of ['api', 'worker', 'consumers', 'migrate']) expect(service(name).build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    const froms = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').match(/^FROM\s+\S+/gm);
    expect(froms?.every((f) => /^FROM\s+node:24\b/.test(f))).toBe(true);
  });

  it('runs entry points that exist', () => {
    expect(commandText(service('api'))).toContain('src/api/main.ts');
    expect(commandText(service('worker'))).toContain('src/workers/main.ts');
    expect(commandText(service('migrate'))).toContain('db/migrate.ts');
    expect(commandText(service('consumers'))).toContain('src/workers/consumers-main.ts');
    for (const file of ['src/api/main.ts', 'src/workers/main.ts', 'src/workers/consumers-main.ts', 'db/migrate.ts']) expect(existsSync(path.join(ROOT, file))).toBe(true);
  });

  it('publishes the ports of the design: API 3000, Temporal 7233, Temporal Web UI 8233, Kafka 9092', () => {
    expect(service('api').ports).toEqual(['3000:3000']);
    expect(serviceEnv('api').PORT).toBe('3000');
    expect(service('temporal').ports).toEqual(['7233:7233']);
    expect(service('temporal-ui').ports).toEqual(['8233:8080']);
    expect(service('kafka').ports).toEqual(['9092:9092']);
    expect(service('kafka').environment?.KAFKA_ADVERTISED_LISTENERS).toContain('localhost:9092');
  });

  it.each(['api', 'worker', 'consumers'])('gives the %s only variables src/config.ts reads, and a configuration that passes production validation', (name) => {
    const env = serviceEnv(name);
    expect(Object.keys(env).filter((k) => !CONFIG_VARIABLES.includes(k))).toEqual([]);
    // Production must never fall back to the local stack's defaults for these.
    for (const required of ['NODE_ENV', 'DATABASE_URL', 'TEMPORAL_ADDRESS', 'KAFKA_BROKERS', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'SSO_SECRET', 'SMTP_URL', 'APP_URL']) {
      expect({ [required]: env[required] }).toEqual({ [required]: expect.any(String) });
    }
    const config = parseConfig(env);
    expect(config.NODE_ENV).toBe('production');
    expect(config.STRIPE_SECRET_KEY).toBe(DEPLOYMENT_VALUES.STRIPE_SECRET_KEY);
  });

  it('wires the service to the compose services: its database, the Temporal frontend, the internal Kafka listener', () => {
    const config = parseConfig(serviceEnv('api'));
    const db = new URL(config.DATABASE_URL);
    const postgres = service('postgres').environment ?? {};
    expect([db.hostname, db.port, db.username, db.pathname]).toEqual(['postgres', '5432', postgres.POSTGRES_USER, `/${postgres.POSTGRES_DB}`]);
    expect(config.TEMPORAL_ADDRESS).toBe('temporal:7233');
    // In a container, loopback would make the API unreachable from the published port.
    expect(config.HOST).toBe('0.0.0.0');
    expect(config.KAFKA_BROKERS).toEqual(['kafka:19092']);
    expect(service('kafka').environment?.KAFKA_ADVERTISED_LISTENERS).toContain('//kafka:19092');
    expect(serviceEnv('worker').WORKFLOW_BUNDLE_PATH).toBe('/app/dist/workflow-bundle.js');
    expect(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toContain('build-workflow-bundle.ts /app/dist/workflow-bundle.js');
  });

  it('registers every search attribute the workflows use, with its type', () => {
    const command = commandText(service('temporal-search-attributes'));
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect(command).toContain(`--name ${name} --type ${type}`);
  });

  it('creates the outcome topic and its dead-letter topic with the partition count the service expects, and nothing else auto-creates topics', () => {
    const config = parseConfig(serviceEnv('api'));
    const command = commandText(service('kafka-topics-init'));
    for (const topic of [config.KAFKA_TOPIC, config.KAFKA_DLQ_TOPIC]) {
      expect(command).toContain(
        `--topic ${topic} --partitions ${config.KAFKA_TOPIC_PARTITIONS} --replication-factor ${config.KAFKA_REPLICATION_FACTOR} --config retention.ms=${EVENT_TOPIC_RETENTION_MS}`,
      );
    }
    expect(service('kafka').environment?.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
  });

  it('starts the API, worker and consumers only after migrations, search attributes and topics are in place', () => {
    for (const name of ['api', 'worker', 'consumers']) {
      expect(service(name).depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        'temporal-search-attributes': { condition: 'service_completed_successfully' },
        'kafka-topics-init': { condition: 'service_completed_successfully' },
      });
    }
  });
});
