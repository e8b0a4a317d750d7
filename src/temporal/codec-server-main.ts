import type { AddressInfo } from 'node:net';
import { config, ConfigError } from '../config';
import { logger } from '../logger';
import { codecServerOptionsFromConfig, createCodecServer } from './codec-server';

/** The codec server as its own process: only operators' tools talk to it, and only it needs to be reachable by them. */
async function main(): Promise<void> {
  const cfg = config();
  const app = createCodecServer(codecServerOptionsFromConfig(cfg));
  const server = app.listen(cfg.CODEC_SERVER_PORT, cfg.HOST, (err?: Error) => {
    if (err) {
      logger.fatal({ err }, 'codec server failed to start');
      process.exit(1);
    }
    const { port } = server.address() as AddressInfo;
    logger.info({ url: `http://${cfg.HOST}:${port}/codec`, auth: cfg.CODEC_SERVER_TOKEN ? 'bearer token' : 'none (loopback)' }, 'codec server listening');
  });
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) logger.fatal(err.message);
  else logger.fatal({ err }, 'codec server failed to start');
  process.exit(1);
});
