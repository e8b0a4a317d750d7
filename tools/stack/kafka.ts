import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopics } from '../../src/kafka/topics';
import { cacheDir, cacheLogFile, ensureCached } from './cache';
import { formatDuration, progress } from './progress';
import { assertPortFree, logDir, requireTool, runCommand, startProcess, StackError, stopStaleProcess, waitUntilHealthy, type ManagedProcess } from './processes';

/**
 * Apache Kafka as a single KRaft node (broker and controller in one JVM), from the broker jars on
 * Maven Central: no tarball download, no Docker.
 */

export const KAFKA_VERSION = '4.1.1';
const POM = path.join(__dirname, 'kafka', 'pom.xml');

const needJava = () => requireTool('java', 'to run the Kafka broker', 'install a Java 17+ runtime, e.g. `apt-get install -y openjdk-17-jre-headless`');

/** `<cache>/kafka-4.1.1/libs/*.jar`: Kafka, its dependencies and a log4j2 backend. */
export async function ensureKafkaJars(): Promise<string> {
  const dir = await ensureCached(
    cacheDir('kafka', KAFKA_VERSION),
    (d) => existsSync(path.join(d, '.complete')),
    async (scratch) => {
      const mvn = requireTool('mvn', `to fetch the Kafka ${KAFKA_VERSION} jars from Maven Central`, 'install Maven, e.g. `apt-get install -y maven`');
      const logFile = cacheLogFile('kafka-jars');
      const started = Date.now();
      progress.line(`  fetching Kafka ${KAFKA_VERSION} jars from Maven Central (about 45 MB, once per machine; log: ${logFile})`);
      await runCommand(mvn, ['-B', '-q', '-f', POM, 'dependency:copy-dependencies', `-DoutputDirectory=${path.join(scratch, 'libs')}`], {
        label: `fetching Kafka ${KAFKA_VERSION} jars`,
        logFile,
        progressEveryMs: 10_000,
      });
      if (!existsSync(path.join(scratch, 'libs', `kafka_2.13-${KAFKA_VERSION}.jar`))) {
        throw new StackError(`Maven finished but kafka_2.13-${KAFKA_VERSION}.jar is missing [log: ${logFile}]`);
      }
      await fs.writeFile(path.join(scratch, '.complete'), new Date().toISOString());
      progress.line(`  fetched Kafka ${KAFKA_VERSION} jars in ${formatDuration(Date.now() - started)}`);
    },
  );
  return path.join(dir, 'libs');
}

export interface KafkaOptions {
  /** Client (PLAINTEXT) listener: what KAFKA_BROKERS points at. */
  port: number;
  controllerPort: number;
  /** Log dirs (topic data and the KRaft metadata log). Formatted on first use, kept afterwards. */
  dataDir: string;
  /** Logs, configs and pid files; defaults to the parent of dataDir. */
  stateDir?: string;
  /** Created once the broker is healthy; omit to create none. */
  topics?: { topic: string; dlqTopic: string; partitions: number };
  portEnvVars?: { port?: string; controllerPort?: string };
}

export interface KafkaHandle {
  brokers: string[];
  /** The running broker process, if started. */
  process(): ManagedProcess | undefined;
  /** Stops the broker (controlled shutdown, SIGKILL after 20 s); the data dir stays. */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data, e.g. after stop() in a broker-outage test. */
  start(): Promise<void>;
}

export async function startKafka(opts: KafkaOptions): Promise<KafkaHandle> {
  const java = needJava();
  const libs = await ensureKafkaJars();
  const dataDir = path.resolve(opts.dataDir);
  const stateDir = path.resolve(opts.stateDir ?? path.dirname(dataDir));
  const configDir = path.join(stateDir, 'kafka-config');
  const brokers = [`127.0.0.1:${opts.port}`];
  const logFile = path.join(logDir(stateDir), 'kafka.log');
  await fs.mkdir(configDir, { recursive: true });
  await fs.mkdir(logDir(stateDir), { recursive: true });
  const serverProperties = path.join(configDir, 'server.properties');
  const log4jConfig = path.join(configDir, 'log4j2.properties');
  await fs.writeFile(serverProperties, serverConfig(opts.port, opts.controllerPort, dataDir));
  await fs.writeFile(log4jConfig, log4jConfigFor(logFile));
  const jvmLogging = `-Dlog4j2.configurationFile=${log4jConfig}`;
  const classpath = path.join(libs, '*');

  let current: ManagedProcess | undefined;
  const start = async () => {
    if (current && !current.hasExited()) return;
    await stopStaleProcess(stateDir, 'kafka', 'Kafka');
    await assertPortFree(opts.port, 'Kafka', opts.portEnvVars?.port);
    await assertPortFree(opts.controllerPort, 'Kafka controller', opts.portEnvVars?.controllerPort);
    if (!existsSync(path.join(dataDir, 'meta.properties'))) {
      await fs.mkdir(dataDir, { recursive: true });
      await runCommand(
        java,
        // C1 only: a short-lived tool starts faster without the optimising compiler.
        ['-XX:TieredStopAtLevel=1', jvmLogging, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', serverProperties],
        { label: 'formatting Kafka storage', logFile: path.join(logDir(stateDir), 'kafka-format.log') },
      );
    }
    const proc = await startProcess({
      name: 'kafka',
      label: 'Kafka',
      command: java,
      args: [
        '-Xms128m',
        '-Xmx512m',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        jvmLogging,
        '-cp',
        classpath,
        'kafka.Kafka',
        serverProperties,
      ],
      stateDir,
      // Controlled shutdown flushes and closes the logs, so the next start skips log recovery.
      graceMs: 20_000,
    });
    current = proc;
    try {
      await waitUntilHealthy('Kafka', () => groupCoordinatorReady(brokers), { timeoutMs: 90_000, intervalMs: 250, process: proc });
    } catch (err) {
      await proc.stop();
      throw err;
    }
  };

  await start();
  if (opts.topics) {
    try {
      await ensureTopics(brokers, opts.topics);
    } catch (err) {
      await current?.stop();
      throw err;
    }
  }
  return {
    brokers,
    process: () => current,
    stop: async () => {
      await current?.stop();
    },
    start,
  };
}

/**
 * Ready means a consumer group can be used, not only that the port answers: right after start the
 * group coordinator is still loading `__consumer_offsets` and kafkajs logs "The coordinator is
 * loading" at ERROR. Describing a throwaway group succeeds only once it has loaded. kafkajs' own
 * logger is off here: those errors are the expected "not yet".
 */
export async function groupCoordinatorReady(brokers: string[]): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'checkout-saga-stack-health',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
    // A fresh client knows no brokers until its first metadata refresh, which kafkajs does on a
    // retry: so a couple of quick retries, and the long wait stays in our loop.
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // kafkajs throws on a group-level error code (COORDINATOR_LOAD_IN_PROGRESS, ...), so an answer is a yes.
    const { groups } = await admin.describeGroups(['checkout-saga-stack-health']);
    return groups.length === 1;
  } finally {
    await admin.disconnect();
  }
}

function serverConfig(port: number, controllerPort: number, dataDir: string): string {
  return `# Generated by tools/stack/kafka.ts at each start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${dataDir}

# Topics come from ensureTopics() only: a misspelt topic name must fail, not create a topic.
auto.create.topics.enable=false
num.partitions=1

# One node: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer partitions than the default 50 for the internal topics: on one node they buy nothing, and
# creating and loading 50 of them costs about half a second of every first start on 2 cores.
offsets.topic.num.partitions=5
transaction.state.log.num.partitions=5

# A consumer group that joins alone starts at once instead of waiting 3 s for more members.
group.initial.rebalance.delay.ms=0
`;
}

function log4jConfigFor(logFile: string): string {
  return `status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${logFile}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
# The full config dump of every client and server component is noise in a local log.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
`;
}

/**
 * A cluster id as `StorageTool random-uuid` makes it (16 random bytes, URL-safe base64, no
 * padding), without a second JVM start. Like Kafka's Uuid.randomUuid, never one starting with '-',
 * which a command line would read as a flag.
 */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
