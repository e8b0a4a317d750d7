import { userInfo } from 'node:os';
import { Client, Connection } from '@temporalio/client';
import type { CheckoutDeps, CheckoutTimeouts } from '../application/checkouts/deps';
import type { DeadLetterDeps } from '../application/dead-letters/kafka';
import { parseConfig, type Config } from '../config';
import { connectDatabase, type Database, type DatabaseHandle } from '../../db/client';
import { createLogger } from '../logger';
import { temporalDataConverter } from '../temporal/data-converter';
import { CliError } from './errors';

/**
 * An operator can wait longer than a buyer's page: a busy worker gets more time to answer before
 * the CLI shows what PostgreSQL knows instead, and an update more time before it is called failed.
 */
const CLI_CHECKOUT_TIMEOUTS: CheckoutTimeouts = {
  startWorkflowMs: 5_000,
  statusQueryMs: 5_000,
  updateMs: 15_000,
  pollIntervalMs: 300,
};

/** The CLI speaks to its operator through its own output; the use cases' log lines are for the service's logs. */
const silentLogger = createLogger(undefined, { level: 'silent' });

/**
 * What a command may use: Temporal and PostgreSQL, each connected on first use (so `--help` and
 * usage errors touch neither) and both closed when the command ends, so the process exits.
 */
export class CliContext {
  private connection: Connection | undefined;
  private client: Client | undefined;
  private database: DatabaseHandle | undefined;
  private cachedConfig: Config | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  get config(): Config {
    if (!this.cachedConfig) {
      try {
        this.cachedConfig = parseConfig(this.env);
      } catch (err) {
        const problems = (err as { problems?: string[] }).problems;
        throw new CliError('INVALID_CONFIGURATION', `invalid configuration: ${problems ? problems.join('; ') : String(err)}`);
      }
    }
    return this.cachedConfig;
  }

  /** Recorded with cancels and refunds, so the history says who asked. */
  get requestedBy(): string {
    let user = 'unknown';
    try {
      user = userInfo().username;
    } catch {
      // No passwd entry (some containers): the host alone still says where the request came from.
    }
    return `cli:${user}`;
  }

  async temporal(): Promise<Client> {
    if (!this.client) {
      const { TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE } = this.config;
      this.connection = await Connection.connect({ address: TEMPORAL_ADDRESS, connectTimeout: '5s' });
      this.client = new Client({ connection: this.connection, namespace: TEMPORAL_NAMESPACE, dataConverter: temporalDataConverter(this.config) });
    }
    return this.client;
  }

  db(): Database {
    this.database ??= connectDatabase(this.config.DATABASE_URL, 2);
    return this.database.db;
  }

  /** What the checkout use cases need, Temporal connected first (so an outage is reported as such, at once). */
  async checkoutDeps(): Promise<CheckoutDeps> {
    const temporal = await this.temporal();
    return { db: this.db(), temporal, config: this.config, logger: silentLogger, timeouts: CLI_CHECKOUT_TIMEOUTS };
  }

  deadLetterDeps(): DeadLetterDeps {
    return { config: this.config, clientRole: 'cli' };
  }

  /** The Web UI page of one workflow run: where an operator looks next. */
  webUiUrl(workflowId: string, runId?: string): string {
    const base = this.config.TEMPORAL_UI_URL.replace(/\/$/, '');
    const path = `/namespaces/${encodeURIComponent(this.config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
    return runId ? `${base}${path}/${runId}/history` : `${base}${path}`;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.connection?.close(), this.database?.close()]);
  }
}
