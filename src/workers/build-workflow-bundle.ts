import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { logger } from '../logger';
import { FAILURE_CONVERTER_PATH } from '../temporal/data-converter';

/** Prebuilds the workflow bundle so a production worker starts without webpack. */
export async function buildWorkflowBundle(outFile: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: quietBundlerLogger });
  await mkdir(path.dirname(outFile), { recursive: true });
  await writeFile(outFile, code);
  return outFile;
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string, meta?: Record<string, unknown>) => logger.warn(meta ?? {}, message),
  error: (message: string, meta?: Record<string, unknown>) => logger.error(meta ?? {}, message),
};

if (require.main === module) {
  const out = process.argv[2] ?? path.resolve(__dirname, '../../dist/workflow-bundle.js');
  buildWorkflowBundle(out)
    .then((file) => logger.info({ file }, 'workflow bundle written'))
    .catch((err: unknown) => {
      logger.fatal({ err }, 'workflow bundle failed');
      process.exit(1);
    });
}
