import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, parseConfig } from '../src/config';
import { kafkaClientOptions } from '../src/kafka/client-config';
import { ALL_CONSUMER_GROUPS } from '../src/kafka/consumer/groups';
import { EVENT_TOPIC_RETENTION_MS } from '../src/kafka/topics';
import { ensureDockerCompose } from '../tools/stack/docker-compose';
import { KAFKA_VERSION } from '../tools/stack/kafka';
import { SEARCH_ATTRIBUTES } from '../tools/stack/temporal';
import { deadLetterReaderGroupPrefix } from '../src/application/dead-letters/kafka';
import { codecServerOptionsFromConfig } from '../src/temporal/codec-server';

/**
 * docker-compose.yml cannot be started on the build machines (no Docker engine), so this checks it
 * against the code instead: `docker-compose config` (Compose 1.29, which needs no engine) validates
 * and resolves it as a deployment would, with the secrets of .env.example filled in, and the tests
 * read what it resolved. A variable the service does not read, a published database, a secret
 * written into the file, a principal allowed more than its service needs would otherwise only show
 * up in a deployment, or never.
 */

const ROOT = path.resolve(__dirname, '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const GRANT_SCRIPT = path.join(ROOT, 'deploy/kafka/grant-access.sh');
const run = promisify(execFile);

/** A deployment's .env: every secret .env.example asks for, each value different from the others. */
const DEPLOYMENT_VALUES: Record<string, string> = {
  POSTGRES_PASSWORD: '5f0c9e27a1d34b8e',
  TEMPORAL_DB_PASSWORD: '0d7e11b4c2f9a853',
  KAFKA_ADMIN_PASSWORD: 'a41f8c02d9e7b635',
  KAFKA_TOPICS_PASSWORD: '7c3b90e1f4a26d58',
  KAFKA_WORKER_PASSWORD: 'e2a9d4718b0c5f36',
  KAFKA_API_PASSWORD: '9b16f0c3e87a2d45',
  KAFKA_ORDER_HISTORY_PROJECTOR_PASSWORD: '3e8d5a0f21c7b964',
  KAFKA_NOTIFICATION_SENDER_PASSWORD: 'c60b7e94d3a1f208',
  STRIPE_SECRET_KEY: 'sk_live_51Abcdefghijklmnop',
  STRIPE_WEBHOOK_SECRET: 'whsec_0123456789abcdef0123456789abcdef',
  SSO_SECRET: 'a-deployment-secret-of-more-than-32-characters',
  SMTP_URL: 'smtp://mailer:8f1e2d3c4b5a6978@smtp.example.com:587',
  PAYLOAD_CODEC_KEYS: 'k2026:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=',
  CUSTOMER_EMAIL_HASH_KEY: 'a-deployment-email-hash-key-of-32-characters-or-more',
  CODEC_SERVER_TOKEN: 'a-codec-server-token-of-24-characters',
};

/** Temporal server advisories the pinned server must be past: the affected version ranges, inclusive. */
const TEMPORAL_ADVISORIES: Array<{ id: string; affected: Array<[string, string]> }> = [
  // ExecuteMultiOperation (Update-with-Start) validated an embedded request against another namespace.
  { id: 'CVE-2025-14986', affected: [['1.24.0', '1.29.1']] },
  // The batch-operation worker acted on a namespace named in the request rather than its own.
  { id: 'CVE-2026-5199', affected: [['1.29.0', '1.29.4'], ['1.30.0', '1.30.2']] },
];

interface Port {
  hostIp: string;
  published: string;
  target: string;
}

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | null>;
  ports?: Array<string | { host_ip?: string; published: string | number; target: string | number }>;
  networks?: Record<string, unknown> | string[];
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  volumes?: Array<string | { type: string; source: string; target: string }>;
  healthcheck?: { test?: string | string[] };
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
  networks?: Record<string, { internal?: boolean } | null>;
}

interface ComposeRun {
  code: number;
  stdout: string;
  stderr: string;
}

let dockerCompose: string;
let scratch: string;
/** The file as a deployment with DEPLOYMENT_VALUES resolves it. */
let resolved: ComposeConfig;
/** The same, merged but not interpolated: where each value comes from. */
let uninterpolated: ComposeConfig;

async function composeConfig(values: Record<string, string>, ...args: string[]): Promise<ComposeRun> {
  const envFile = path.join(scratch, `env-${Object.keys(values).length}-${Math.random().toString(36).slice(2)}`);
  await fs.writeFile(envFile, Object.entries(values).map(([k, v]) => `${k}=${v}\n`).join(''));
  try {
    // Only PATH from this process: a variable exported in the developer's shell must not fill a gap.
    const { stdout, stderr } = await run(dockerCompose, ['--project-directory', ROOT, '-f', COMPOSE_FILE, '--env-file', envFile, 'config', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

beforeAll(async () => {
  dockerCompose = await ensureDockerCompose();
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'checkout-saga-compose-'));
  const [full, raw] = await Promise.all([composeConfig(DEPLOYMENT_VALUES), composeConfig(DEPLOYMENT_VALUES, '--no-interpolate')]);
  for (const r of [full, raw]) if (r.code !== 0) throw new Error(`docker-compose config refused docker-compose.yml: ${r.stderr.trim()}`);
  resolved = parse(full.stdout) as ComposeConfig;
  uninterpolated = parse(raw.stdout) as ComposeConfig;
}, 300_000);

afterAll(async () => {
  if (scratch) await fs.rm(scratch, { recursive: true, force: true });
});

const service = (name: string, config: ComposeConfig = resolved): ComposeService => {
  const s = config.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service "${name}"`);
  return s;
};
/** `docker-compose config` writes a `$` meant for the container's shell as `$$`, as in the file. */
const unescape = (text: string) => text.replace(/\$\$/g, '$');
const words = (value: string | string[] | undefined) => unescape(Array.isArray(value) ? value.join(' ') : (value ?? ''));
const commandText = (s: ComposeService) => words(s.command);
const env = (name: string): Record<string, string> => Object.fromEntries(Object.entries(service(name).environment ?? {}).map(([k, v]) => [k, String(v ?? '')]));
const networksOf = (s: ComposeService) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {})).sort();
const portsOf = (s: ComposeService): Port[] =>
  (s.ports ?? []).map((p) => {
    if (typeof p !== 'string') return { hostIp: p.host_ip ?? '0.0.0.0', published: String(p.published), target: String(p.target) };
    const parts = p.replace(/\/tcp$/, '').split(':');
    const [target, published, hostIp] = [parts.pop() ?? '', parts.pop() ?? '', parts.pop() ?? '0.0.0.0'];
    return { hostIp, published, target };
  });

const APP_SERVICES = ['api', 'worker', 'order-history-projector', 'notification-sender'];
const consumerServices = () => APP_SERVICES.filter((name) => commandText(service(name)).includes('src/workers/consumers-main.ts'));

/** The broker properties the apache/kafka image writes from its KAFKA_* variables (its KafkaDockerWrapper). */
function brokerProperties(environment: Record<string, string>): Record<string, string> {
  const notProperties = new Set(['KAFKA_VERSION', 'KAFKA_HEAP_OPTS', 'KAFKA_LOG4J_OPTS', 'KAFKA_OPTS', 'KAFKA_JMX_OPTS', 'KAFKA_JVM_PERFORMANCE_OPTS', 'KAFKA_GC_LOG_OPTS', 'KAFKA_LOG4J_ROOT_LOGLEVEL', 'KAFKA_LOG4J_LOGGERS', 'KAFKA_TOOLS_LOG4J_LOGLEVEL', 'KAFKA_JMX_HOSTNAME']);
  return Object.fromEntries(
    Object.entries(environment)
      .filter(([k]) => k.startsWith('KAFKA_') && !notProperties.has(k))
      .map(([k, v]) => [k.replace('KAFKA_', '').toLowerCase().replaceAll('_', '.').replaceAll('...', '-').replaceAll('..', '_'), v]),
  );
}

interface Acl {
  principal: string;
  resource: 'topic' | 'group' | 'cluster' | 'transactional-id';
  name: string;
  pattern: string;
  operations: string[];
  deny: boolean;
}

interface Grants {
  /** SCRAM-SHA-512 credentials: principal -> password. */
  users: Record<string, string>;
  acls: Acl[];
  /** Every tool call, as its arguments, for checks on how the script talks to the broker. */
  calls: string[][];
}

/**
 * Runs deploy/kafka/grant-access.sh as the kafka-acls job does, with recording stand-ins for
 * kafka-configs.sh and kafka-acls.sh, and reads back what it asked the broker for, parsed the way
 * those tools read their arguments.
 */
async function runGrantScript(environment: Record<string, string>): Promise<Grants> {
  const bin = await fs.mkdtemp(path.join(scratch, 'kafka-bin-'));
  const callsFile = path.join(bin, 'calls');
  const recorder = '#!/bin/sh\n{ printf "%s" "$(basename "$0")"; for a in "$@"; do printf "\\t%s" "$a"; done; printf "\\n"; } >> "$CALLS"\n';
  for (const tool of ['kafka-configs.sh', 'kafka-acls.sh']) await fs.writeFile(path.join(bin, tool), recorder, { mode: 0o755 });
  await run('/bin/sh', [GRANT_SCRIPT], { env: { PATH: process.env.PATH ?? '', ...environment, KAFKA_BIN: bin, CALLS: callsFile } });
  const calls = (await fs.readFile(callsFile, 'utf8')).split('\n').filter(Boolean).map((line) => line.split('\t'));
  const grants: Grants = { users: {}, acls: [], calls };
  for (const [tool, ...args] of calls) {
    const values = (flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? ''] : []));
    if (tool === 'kafka-configs.sh') {
      const [name] = values('--entity-name');
      const password = /^SCRAM-SHA-512=\[password=(.*)\]$/.exec(values('--add-config')[0] ?? '')?.[1];
      if (values('--entity-type')[0] !== 'users' || !name || password === undefined) throw new Error(`unexpected kafka-configs call: ${args.join(' ')}`);
      grants.users[name] = password;
    } else {
      const resource = (['topic', 'group', 'cluster', 'transactional-id'] as const).find((r) => args.includes(`--${r}`));
      const principal = [...values('--allow-principal'), ...values('--deny-principal')][0] ?? '';
      if (!args.includes('--add') || !resource || !principal.startsWith('User:')) throw new Error(`unexpected kafka-acls call: ${args.join(' ')}`);
      grants.acls.push({
        principal: principal.slice('User:'.length),
        resource,
        name: values(`--${resource}`)[0] ?? '',
        pattern: values('--resource-pattern-type')[0] ?? 'literal',
        operations: values('--operation'),
        deny: args.includes('--deny-principal'),
      });
    }
  }
  return grants;
}

/** Kafka's implied operations: Read, Write, Delete and Alter imply Describe; AlterConfigs implies DescribeConfigs; All implies all. */
function allows(acl: Acl, operation: string): boolean {
  if (acl.deny) return false;
  return acl.operations.some(
    (op) => op === operation || op === 'All' || (operation === 'Describe' && ['Read', 'Write', 'Delete', 'Alter'].includes(op)) || (operation === 'DescribeConfigs' && op === 'AlterConfigs'),
  );
}
function covers(acl: Acl, resource: Acl['resource'], name: string): boolean {
  if (acl.resource !== resource) return false;
  return acl.pattern === 'prefixed' ? name.startsWith(acl.name) : acl.name === name || acl.name === '*';
}
const principalsAllowed = (grants: Grants, operation: string, resource: Acl['resource'], name: string) =>
  [...new Set(grants.acls.filter((a) => covers(a, resource, name) && allows(a, operation)).map((a) => a.principal))].sort();
const may = (grants: Grants, principal: string, operation: string, resource: Acl['resource'], name: string) => principalsAllowed(grants, operation, resource, name).includes(principal);

function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if ((x?.[i] ?? 0) !== (y?.[i] ?? 0)) return (x?.[i] ?? 0) - (y?.[i] ?? 0);
  return 0;
}

/** The lines of .env.example: `KEY=value`, and `# KEY=value` for the optional ones. */
function exampleEnv(): { set: Record<string, string>; commentedOut: string[] } {
  const text = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
  const set = Object.fromEntries([...text.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
  const commentedOut = [...text.matchAll(/^# ([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] ?? '');
  return { set, commentedOut };
}

/** Every `${VAR...}` docker-compose.yml interpolates (a `$$` is the container's, not Compose's). */
function interpolatedVariables(): { required: string[]; optional: string[] } {
  const text = readFileSync(COMPOSE_FILE, 'utf8').replace(/\$\$/g, '');
  const refs = [...text.matchAll(/\$\{(\w+)(:?[?-])?/g)].map((m) => ({ name: m[1] ?? '', kind: m[2] ?? '' }));
  const required = [...new Set(refs.filter((r) => r.kind.endsWith('?')).map((r) => r.name))].sort();
  const optional = [...new Set(refs.filter((r) => !r.kind.endsWith('?')).map((r) => r.name))].sort();
  return { required, optional };
}

describe('docker-compose.yml', () => {
  it('describes the whole topology: databases, Temporal (+ schema, namespace, UI), Kafka (+ principals, topics), migrations, API, worker and each consumer', () => {
    expect(Object.keys(resolved.services).sort()).toEqual(
      [
        'api',
        'codec-server',
        'kafka',
        'kafka-acls',
        'kafka-topics-init',
        'migrate',
        'notification-sender',
        'order-history-projector',
        'postgres',
        'temporal',
        'temporal-namespace',
        'temporal-postgres',
        'temporal-schema',
        'temporal-ui',
        'worker',
      ].sort(),
    );
  });

  describe('images', () => {
    it('uses official images at pinned versions, Kafka the same as the local stack', () => {
      const pulled = Object.entries(resolved.services).filter(([, s]) => !s.build);
      for (const [name, s] of pulled) {
        expect({ [name]: s.image }).toEqual({ [name]: expect.stringMatching(/^(postgres|temporalio\/(server|admin-tools|ui)|apache\/kafka):\d+(\.\d+)*$/) });
      }
      expect(service('kafka').image).toBe(`apache/kafka:${KAFKA_VERSION}`);
      for (const name of ['kafka-acls', 'kafka-topics-init']) expect(service(name).image).toBe(`apache/kafka:${KAFKA_VERSION}`);
    });

    it('runs a Temporal server past every known advisory, with admin tools of the same version', () => {
      const version = /^temporalio\/server:(\d+\.\d+\.\d+)$/.exec(service('temporal').image ?? '')?.[1] ?? '';
      const affectedBy = TEMPORAL_ADVISORIES.filter((a) => a.affected.some(([first, last]) => compareVersions(version, first) >= 0 && compareVersions(version, last) <= 0)).map((a) => a.id);
      expect({ version, affectedBy }).toEqual({ version: expect.stringMatching(/^\d+\.\d+\.\d+$/), affectedBy: [] });
      for (const name of ['temporal-schema', 'temporal-namespace']) expect(service(name).image).toBe(`temporalio/admin-tools:${version}`);
    });

    it('builds the API, worker, consumers and migration job from the Dockerfile, on Node 24', () => {
      for (const name of [...APP_SERVICES, 'migrate']) expect(service(name).build).toEqual({ context: ROOT, dockerfile: 'Dockerfile' });
      const froms = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').match(/^FROM\s+\S+/gm);
      expect(froms?.every((f) => /^FROM\s+node:24\b/.test(f))).toBe(true);
    });

    it('runs entry points and mounts files that exist', () => {
      expect(commandText(service('api'))).toContain('src/api/main.ts');
      expect(commandText(service('worker'))).toContain('src/workers/main.ts');
      expect(commandText(service('migrate'))).toContain('db/migrate.ts');
      expect(consumerServices()).toEqual(['order-history-projector', 'notification-sender']);
      for (const file of ['src/api/main.ts', 'src/workers/main.ts', 'src/workers/consumers-main.ts', 'db/migrate.ts', 'src/cli/main.ts']) expect(existsSync(path.join(ROOT, file))).toBe(true);
      const mounts = Object.values(resolved.services).flatMap((s) => (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] ?? '' : v.source)));
      for (const source of mounts.filter((m) => m.startsWith('/') || m.startsWith('.'))) expect({ source, exists: existsSync(path.resolve(ROOT, source)) }).toEqual({ source, exists: true });
      const mountedAt = (name: string, file: string) =>
        (service(name).volumes ?? []).flatMap((v) => {
          const [source, target] = typeof v === 'string' ? v.split(':') : [v.source, v.target];
          return source && path.resolve(ROOT, source) === path.join(ROOT, file) ? [target] : [];
        });
      // The job runs the script where it is mounted, and the server reads its dynamic config where it is mounted.
      expect(service('kafka-acls').entrypoint).toEqual(['/bin/sh', ...mountedAt('kafka-acls', 'deploy/kafka/grant-access.sh')]);
      expect(mountedAt('temporal', 'deploy/temporal/dynamicconfig.yaml')).toEqual([env('temporal').DYNAMIC_CONFIG_FILE_PATH]);
    });
  });

  describe('what the host can reach', () => {
    it('publishes the API on the host, the Temporal Web UI and its codec server only on its loopback and only in the ops profile, and nothing else', () => {
      const published = Object.fromEntries(Object.entries(resolved.services).filter(([, s]) => s.ports?.length).map(([name, s]) => [name, portsOf(s)]));
      expect(published).toEqual({
        api: [{ hostIp: '0.0.0.0', published: '3000', target: '3000' }],
        'temporal-ui': [{ hostIp: '127.0.0.1', published: '8233', target: '8080' }],
        'codec-server': [{ hostIp: '127.0.0.1', published: '8235', target: '8235' }],
      });
      expect(env('api').PORT).toBe('3000');
      expect(service('temporal-ui').profiles).toEqual(['ops']);
      expect(service('codec-server').profiles).toEqual(['ops']);
      expect(new URL(parseConfig(env('api')).TEMPORAL_UI_URL).port).toBe('8233');
    });

    it('keeps PostgreSQL, Temporal, Kafka and their set-up jobs on an internal network, which reaches nothing outside', () => {
      expect(resolved.networks?.backend?.internal).toBe(true);
      for (const name of ['postgres', 'temporal-postgres', 'temporal-schema', 'temporal', 'temporal-namespace', 'kafka', 'kafka-acls', 'kafka-topics-init', 'migrate']) {
        expect({ [name]: networksOf(service(name)) }).toEqual({ [name]: ['backend'] });
      }
      expect(env('kafka').KAFKA_ADVERTISED_LISTENERS?.split(',').map((l) => new URL(l.replace(/^\w+:/, 'kafka:')).hostname)).toEqual(['kafka', 'kafka']);
    });

    it('lets out only what calls out: the API and worker (Stripe), the notification sender (SMTP), the Web UI (to be tunnelled to)', () => {
      expect(resolved.networks?.edge?.internal ?? false).toBe(false);
      const onEdge = Object.entries(resolved.services).filter(([, s]) => networksOf(s).includes('edge')).map(([name]) => name).sort();
      expect(onEdge).toEqual(['api', 'codec-server', 'notification-sender', 'temporal-ui', 'worker']);
      // The codec server holds keys and nothing else: no database, Temporal or Kafka to reach.
      expect(networksOf(service('codec-server'))).toEqual(['edge']);
      for (const name of APP_SERVICES) expect(networksOf(service(name))).toContain('backend');
    });
  });

  describe('encryption', () => {
    it("points the Web UI at the codec server, which the operator's browser reaches through the same tunnel", () => {
      expect(commandText(service('codec-server'))).toContain('src/temporal/codec-server-main.ts');
      expect(existsSync(path.join(ROOT, 'src/temporal/codec-server-main.ts'))).toBe(true);
      const codec = parseConfig(env('codec-server'));
      const published = portsOf(service('codec-server'))[0]!;
      expect(env('temporal-ui').TEMPORAL_CODEC_ENDPOINT).toBe(`http://localhost:${published.published}/codec`);
      expect(String(codec.CODEC_SERVER_PORT)).toBe(published.target);
      expect(env('temporal-ui').TEMPORAL_CODEC_PASS_ACCESS_TOKEN).toBe('true');
      // The codec server answers the UI's origin, and starts only with its token.
      expect(new URL(codec.TEMPORAL_UI_URL).port).toBe(portsOf(service('temporal-ui'))[0]!.published);
      expect(codecServerOptionsFromConfig(codec)).toMatchObject({ token: DEPLOYMENT_VALUES.CODEC_SERVER_TOKEN, allowedOrigins: ['http://localhost:8233'] });
    });

    it('gives every service that talks to Temporal the same payload keys and email hash key', () => {
      for (const name of [...APP_SERVICES, 'codec-server']) {
        const cfg = parseConfig(env(name));
        expect({ name, keys: [...cfg.PAYLOAD_CODEC_KEYS.keys()], hashKey: cfg.CUSTOMER_EMAIL_HASH_KEY }).toEqual({ name, keys: ['k2026'], hashKey: DEPLOYMENT_VALUES.CUSTOMER_EMAIL_HASH_KEY });
      }
    });
  });

  describe('secrets', () => {
    it('come from .env, which git and the image build ignore; .env.example is the committed template', async () => {
      await expect(run('git', ['check-ignore', '-q', '.env'], { cwd: ROOT })).resolves.toBeDefined();
      await expect(run('git', ['check-ignore', '-q', '.env.example'], { cwd: ROOT })).rejects.toMatchObject({ code: 1 });
      expect(readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n')).toContain('.env');
    });

    it('are all listed in .env.example, empty, and are exactly the variables the file requires', () => {
      const { required, optional } = interpolatedVariables();
      const example = exampleEnv();
      expect(required).toEqual(Object.keys(DEPLOYMENT_VALUES).sort());
      const secrets = Object.entries(example.set).filter(([k]) => k !== 'COMPOSE_PROJECT_NAME');
      expect(secrets.sort(([a], [b]) => (a < b ? -1 : 1))).toEqual(required.map((k) => [k, '']));
      expect(example.commentedOut.sort()).toEqual(optional);
      // Compose 1.29 and 2 both read the project name from .env; v2's top-level `name:` would break v1.
      expect(example.set.COMPOSE_PROJECT_NAME).toBe('checkout-saga');
    });

    it('have no default: each is required where it is used, so a deployment cannot start on a value from this repository', () => {
      const text = readFileSync(COMPOSE_FILE, 'utf8');
      for (const name of Object.keys(DEPLOYMENT_VALUES)) {
        const uses = [...text.matchAll(new RegExp(`\\$\\{${name}(:?[?-][^}]*)?\\}`, 'g'))].map((m) => m[0]);
        expect({ name, uses: uses.filter((u) => !u.startsWith(`\${${name}:?set ${name} in .env`)) }).toEqual({ name, uses: [] });
      }
    });

    it('stop the deployment with a message naming the one that is missing', async () => {
      const { KAFKA_WORKER_PASSWORD: _missing, ...rest } = DEPLOYMENT_VALUES;
      const refused = await composeConfig(rest, '--quiet');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('set KAFKA_WORKER_PASSWORD in .env');
    });

    it('are never written into the file: every password, key and credential in it is an interpolation', () => {
      const isSecretKey = (key: string) => /(PASSWORD|PWD|SECRET|SECRET_KEY)$/.test(key);
      const fromEnvFile = /^\$\{\w+:\?[^}]*\}$/;
      for (const [name, s] of Object.entries(uninterpolated.services)) {
        for (const [key, raw] of Object.entries(s.environment ?? {})) {
          const value = String(raw ?? '');
          if (isSecretKey(key)) expect({ [`${name}.${key}`]: value }).toEqual({ [`${name}.${key}`]: expect.stringMatching(fromEnvFile) });
          for (const m of value.matchAll(/\b(?:password|user_\w+)="([^"]*)"/g)) expect({ [`${name}.${key}`]: m[1] }).toEqual({ [`${name}.${key}`]: expect.stringMatching(fromEnvFile) });
          const userinfo = /^\w+:\/\/[^:/@]+:([^@]*)@/.exec(value)?.[1];
          if (userinfo !== undefined) expect({ [`${name}.${key}`]: userinfo }).toEqual({ [`${name}.${key}`]: expect.stringMatching(fromEnvFile) });
        }
        // Commands and health checks take credentials from their container's environment ($VAR) only.
        for (const text of [words(s.command), words(s.entrypoint), words(s.healthcheck?.test)]) {
          for (const m of text.matchAll(/password=("?)([^"\s;\]]*)/g)) expect({ [name]: m[2] }).toEqual({ [name]: expect.stringMatching(/^(%s|\$\w+)$/) });
        }
      }
      const resolvedText = JSON.stringify(resolved);
      for (const [name, value] of Object.entries(DEPLOYMENT_VALUES)) expect({ [name]: resolvedText.includes(value) }).toEqual({ [name]: true });
    });
  });

  describe('Kafka', () => {
    const kafkaProperties = () => brokerProperties(env('kafka'));

    it('authenticates every connection (SASL on every listener) and authorizes by ACL, denying what no ACL allows', () => {
      const props = kafkaProperties();
      const protocols = Object.fromEntries((props['listener.security.protocol.map'] ?? '').split(',').map((pair) => pair.split(':') as [string, string]));
      const listeners = (props.listeners ?? '').split(',').map((l) => l.split(':')[0] ?? '');
      expect(Object.keys(protocols).sort()).toEqual([...listeners].sort());
      for (const listener of listeners) expect({ [listener]: protocols[listener] }).toEqual({ [listener]: expect.stringMatching(/^SASL_(PLAINTEXT|SSL)$/) });
      expect(props).toMatchObject({
        'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        'super.users': 'User:admin',
        'allow.everyone.if.no.acl.found': 'false',
        'auto.create.topics.enable': 'false',
      });
    });

    it('gives each SASL listener a login module for each mechanism it enables, under the property names the image produces', () => {
      const props = kafkaProperties();
      const listeners = (props.listeners ?? '').split(',').map((l) => (l.split(':')[0] ?? '').toLowerCase());
      const moduleFor: Record<string, string> = {
        PLAIN: 'org\\.apache\\.kafka\\.common\\.security\\.plain\\.PlainLoginModule required',
        'SCRAM-SHA-512': 'org\\.apache\\.kafka\\.common\\.security\\.scram\\.ScramLoginModule required',
        'SCRAM-SHA-256': 'org\\.apache\\.kafka\\.common\\.security\\.scram\\.ScramLoginModule required',
      };
      for (const listener of listeners) {
        const mechanisms = (props[`listener.name.${listener}.sasl.enabled.mechanisms`] ?? '').split(',').filter(Boolean);
        expect({ listener, mechanisms: mechanisms.length }).toEqual({ listener, mechanisms: 1 });
        for (const mechanism of mechanisms) {
          expect(props[`listener.name.${listener}.${mechanism.toLowerCase()}.sasl.jaas.config`]).toMatch(new RegExp(`^${moduleFor[mechanism] ?? '(unknown mechanism)'}\\b`));
        }
      }
      expect(props['sasl.mechanism.inter.broker.protocol']).toBe(props[`listener.name.${props['inter.broker.listener.name']?.toLowerCase()}.sasl.enabled.mechanisms`]);
      expect(props['sasl.mechanism.controller.protocol']).toBe(props[`listener.name.${props['controller.listener.names']?.toLowerCase()}.sasl.enabled.mechanisms`]);
    });

    it('lets only the admin log in with PLAIN (the broker and controller listeners); the services use SCRAM on the client listener', () => {
      const props = kafkaProperties();
      const plainUsers = Object.entries(props)
        .filter(([k]) => k.endsWith('.plain.sasl.jaas.config'))
        .map(([k, v]) => [k, [...v.matchAll(/\buser_(\w+)=/g)].map((m) => m[1])]);
      expect(plainUsers.length).toBeGreaterThan(0);
      for (const [key, users] of plainUsers) expect({ [String(key)]: users }).toEqual({ [String(key)]: ['admin'] });
      const clientListener = (props['advertised.listeners'] ?? '').split(',').find((l) => l.endsWith(`//${parseConfig(env('api')).KAFKA_BROKERS[0]}`));
      const listenerName = (clientListener?.split(':')[0] ?? '(none)').toLowerCase();
      expect(props[`listener.name.${listenerName}.sasl.enabled.mechanisms`]).toBe('SCRAM-SHA-512');
      for (const name of APP_SERVICES) expect({ [name]: env(name).KAFKA_SASL_MECHANISM?.toUpperCase() }).toEqual({ [name]: 'SCRAM-SHA-512' });
    });

    describe('principals and ACLs (deploy/kafka/grant-access.sh, run with recording stand-ins for the Kafka tools)', () => {
      let grants: Grants;
      const topics = () => parseConfig(env('worker'));
      beforeAll(async () => {
        grants = await runGrantScript(env('kafka-acls'));
      });

      it('gives each service its own SCRAM principal, with a password of its own from .env', () => {
        const principals = Object.fromEntries(APP_SERVICES.map((name) => [name, env(name).KAFKA_SASL_USERNAME]));
        expect(new Set(Object.values(principals)).size).toBe(APP_SERVICES.length);
        for (const name of APP_SERVICES) {
          const { KAFKA_SASL_USERNAME: user = '', KAFKA_SASL_PASSWORD: password } = env(name);
          expect({ [name]: grants.users[user] }).toEqual({ [name]: password });
          expect(kafkaClientOptions(parseConfig(env(name))).sasl).toEqual({ mechanism: 'scram-sha-512', username: user, password });
        }
        const passwordVariables = APP_SERVICES.map((name) => String(service(name, uninterpolated).environment?.KAFKA_SASL_PASSWORD));
        expect(new Set(passwordVariables).size).toBe(APP_SERVICES.length);
        expect(new Set(Object.values(grants.users)).size).toBe(Object.keys(grants.users).length);
        expect(Object.keys(grants.users).sort()).toEqual([...Object.values(principals), 'checkout-topics'].sort());
      });

      it('lets only the worker produce to the outcome topic', () => {
        expect(principalsAllowed(grants, 'Write', 'topic', topics().KAFKA_TOPIC)).toEqual([env('worker').KAFKA_SASL_USERNAME]);
      });

      it('lets each consumer read the outcome topic with its own principal in its own group, and no other principal use that group', () => {
        const groups = consumerServices().map((name) => {
          const cfg = parseConfig(env(name));
          const principal = cfg.KAFKA_SASL_USERNAME ?? '';
          expect({ [name]: cfg.CONSUMER_GROUPS.length }).toEqual({ [name]: 1 });
          const group = cfg.CONSUMER_GROUPS[0] ?? '';
          expect({ [name]: may(grants, principal, 'Read', 'topic', cfg.KAFKA_TOPIC) }).toEqual({ [name]: true });
          expect({ [group]: principalsAllowed(grants, 'Read', 'group', group) }).toEqual({ [group]: [principal] });
          for (const other of ALL_CONSUMER_GROUPS.filter((g) => g !== group)) expect({ [name]: may(grants, principal, 'Read', 'group', other) }).toEqual({ [name]: false });
          return group;
        });
        expect(groups.sort()).toEqual([...ALL_CONSUMER_GROUPS].sort());
      });

      it('lets the consumers write their dead letters and nothing else', () => {
        for (const name of consumerServices()) {
          const principal = env(name).KAFKA_SASL_USERNAME ?? '';
          const writes = grants.acls.filter((a) => a.principal === principal && allows(a, 'Write'));
          expect({ [name]: writes.map((a) => `${a.resource}:${a.name}`) }).toEqual({ [name]: [`topic:${topics().KAFKA_DLQ_TOPIC}`] });
        }
      });

      it("gives the API's readiness and lag metrics describe rights only: both topics, every consumer group", () => {
        const principal = env('api').KAFKA_SASL_USERNAME ?? '';
        const granted = grants.acls.filter((a) => a.principal === principal);
        expect([...new Set(granted.flatMap((a) => a.operations))]).toEqual(['Describe']);
        for (const topic of [topics().KAFKA_TOPIC, topics().KAFKA_DLQ_TOPIC]) expect(may(grants, principal, 'Describe', 'topic', topic)).toBe(true);
        for (const group of ALL_CONSUMER_GROUPS) expect(may(grants, principal, 'Describe', 'group', group)).toBe(true);
      });

      it('lets the topic job create the two topics and nothing else, as its own principal', () => {
        const granted = grants.acls.filter((a) => a.principal === 'checkout-topics');
        expect(granted.map((a) => `${a.resource}:${a.name}:${a.pattern}`).sort()).toEqual([`topic:${topics().KAFKA_DLQ_TOPIC}:literal`, `topic:${topics().KAFKA_TOPIC}:literal`].sort());
        expect([...new Set(granted.flatMap((a) => a.operations))].sort()).toEqual(['Create', 'Describe']);
        const command = commandText(service('kafka-topics-init'));
        expect(command).toContain('username="checkout-topics" password="%s"');
        expect(command).toContain('"$KAFKA_TOPICS_PASSWORD"');
        expect(principalsAllowed(grants, 'Create', 'topic', topics().KAFKA_TOPIC)).toEqual(['checkout-topics']);
      });

      it('lets every process that checks the topics at start (worker, consumers) see both topics and their retention', () => {
        for (const name of ['worker', ...consumerServices()]) {
          const principal = env(name).KAFKA_SASL_USERNAME ?? '';
          for (const topic of [topics().KAFKA_TOPIC, topics().KAFKA_DLQ_TOPIC]) {
            expect({ name, topic, ok: may(grants, principal, 'Describe', 'topic', topic) && may(grants, principal, 'DescribeConfigs', 'topic', topic) }).toEqual({ name, topic, ok: true });
          }
        }
      });

      it("runs the operators' dlq list and dlq replay as the worker: it reads the DLQ in the CLI's throwaway groups and deletes them", () => {
        const prefix = deadLetterReaderGroupPrefix('cli');
        const worker = env('worker').KAFKA_SASL_USERNAME ?? '';
        const group = `${prefix}00000000-0000-4000-8000-000000000000`;
        expect(may(grants, worker, 'Read', 'topic', topics().KAFKA_DLQ_TOPIC)).toBe(true);
        expect(may(grants, worker, 'Read', 'group', group)).toBe(true);
        expect(may(grants, worker, 'Delete', 'group', group)).toBe(true);
        expect(principalsAllowed(grants, 'Read', 'group', group)).toEqual([worker]);
      });

      it('grants nothing on the cluster, to a wildcard or as a deny, and passes passwords only from the environment', () => {
        for (const acl of grants.acls) {
          expect(acl).toMatchObject({ deny: false, resource: expect.stringMatching(/^(topic|group)$/), pattern: expect.stringMatching(/^(literal|prefixed)$/) });
          expect(acl.name).not.toMatch(/^\*?$/);
          expect(acl.operations).not.toContain('All');
        }
        const grantScript = readFileSync(GRANT_SCRIPT, 'utf8');
        expect(grantScript).not.toMatch(/password=[^$"\s]/);
        expect(grants.users).toEqual({
          'checkout-topics': DEPLOYMENT_VALUES.KAFKA_TOPICS_PASSWORD,
          'checkout-worker': DEPLOYMENT_VALUES.KAFKA_WORKER_PASSWORD,
          'checkout-api': DEPLOYMENT_VALUES.KAFKA_API_PASSWORD,
          'order-history-projector': DEPLOYMENT_VALUES.KAFKA_ORDER_HISTORY_PROJECTOR_PASSWORD,
          'notification-sender': DEPLOYMENT_VALUES.KAFKA_NOTIFICATION_SENDER_PASSWORD,
        });
        for (const args of grants.calls) expect(args).toEqual(expect.arrayContaining(['--bootstrap-server', 'kafka:9094', '--command-config']));
      });
    });
  });

  describe('the services', () => {
    it.each(APP_SERVICES)('gives %s only variables src/config.ts reads, and a configuration that passes production validation', (name) => {
      const environment = env(name);
      expect(Object.keys(environment).filter((k) => !CONFIG_VARIABLES.includes(k))).toEqual([]);
      // Production must never fall back to the local stack's defaults for these.
      for (const required of ['NODE_ENV', 'DATABASE_URL', 'TEMPORAL_ADDRESS', 'KAFKA_BROKERS', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'SSO_SECRET', 'SMTP_URL', 'APP_URL']) {
        expect({ [required]: environment[required] }).toEqual({ [required]: expect.any(String) });
      }
      const config = parseConfig(environment);
      expect(config.NODE_ENV).toBe('production');
      expect(config.STRIPE_SECRET_KEY).toBe(DEPLOYMENT_VALUES.STRIPE_SECRET_KEY);
    });

    it('gives the migration job only its database', () => {
      expect(Object.keys(env('migrate'))).toEqual(['DATABASE_URL']);
      expect(CONFIG_VARIABLES).toContain('DATABASE_URL');
    });

    it('wires the services to the compose services: their database, the Temporal frontend, the client listener of Kafka', () => {
      const config = parseConfig(env('api'));
      const db = new URL(config.DATABASE_URL);
      const postgres = env('postgres');
      expect([db.hostname, db.port, db.username, db.password, db.pathname]).toEqual(['postgres', '5432', postgres.POSTGRES_USER, postgres.POSTGRES_PASSWORD, `/${postgres.POSTGRES_DB}`]);
      expect(config.TEMPORAL_ADDRESS).toBe('temporal:7233');
      // In a container, loopback would make the API unreachable from the published port.
      expect(config.HOST).toBe('0.0.0.0');
      expect(config.KAFKA_BROKERS).toEqual(['kafka:19092']);
      expect(env('kafka').KAFKA_ADVERTISED_LISTENERS?.split(',')).toContain('CLIENT://kafka:19092');
      expect(env('temporal').POSTGRES_PWD).toBe(env('temporal-postgres').POSTGRES_PASSWORD);
      expect(env('worker').WORKFLOW_BUNDLE_PATH).toBe('/app/dist/workflow-bundle.js');
      expect(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toContain('build-workflow-bundle.ts /app/dist/workflow-bundle.js');
    });
  });

  describe('set-up jobs', () => {
    it('creates the namespace and registers every search attribute the workflows use, with its type', () => {
      const command = commandText(service('temporal-namespace'));
      expect(command).toContain(`temporal operator namespace create --namespace ${parseConfig(env('worker')).TEMPORAL_NAMESPACE}`);
      for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect(command).toContain(`--name ${name} --type ${type}`);
    });

    it('creates the outcome topic and its dead-letter topic with the partition count the service expects, and nothing else auto-creates topics', () => {
      const config = parseConfig(env('api'));
      const command = commandText(service('kafka-topics-init'));
      for (const topic of [config.KAFKA_TOPIC, config.KAFKA_DLQ_TOPIC]) {
        expect(command).toContain(
          `--topic ${topic} --partitions ${config.KAFKA_TOPIC_PARTITIONS} --replication-factor ${config.KAFKA_REPLICATION_FACTOR} --config retention.ms=${EVENT_TOPIC_RETENTION_MS}`,
        );
      }
      expect(env('kafka').KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    });

    it('starts each step once what it needs is in place: schema before Temporal, principals before topics, all of it before the services', () => {
      expect(service('temporal').depends_on).toMatchObject({ 'temporal-schema': { condition: 'service_completed_successfully' } });
      expect(service('temporal-namespace').depends_on).toMatchObject({ temporal: { condition: 'service_healthy' } });
      expect(service('kafka-acls').depends_on).toMatchObject({ kafka: { condition: 'service_healthy' } });
      expect(service('kafka-topics-init').depends_on).toMatchObject({ 'kafka-acls': { condition: 'service_completed_successfully' } });
      for (const name of APP_SERVICES) {
        expect(service(name).depends_on).toMatchObject({
          migrate: { condition: 'service_completed_successfully' },
          'temporal-namespace': { condition: 'service_completed_successfully' },
          'kafka-acls': { condition: 'service_completed_successfully' },
          'kafka-topics-init': { condition: 'service_completed_successfully' },
        });
      }
    });
  });
});
