import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, type BundleOptions } from '@temporalio/worker';
import { logger } from '../logger';
import { FAILURE_CONVERTER_PATH } from '../temporal/data-converter';

export const WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * Workflow interceptors are compiled into the bundle (a worker given a bundle ignores its own
 * `workflowModules`), so every bundle is made with these: the OpenTelemetry spans of workflow code,
 * which cost nothing in a workflow started outside a trace.
 */
export const WORKFLOW_INTERCEPTOR_MODULES: readonly string[] = [require.resolve('../workflows/interceptors')];

/**
 * What every bundle of the workflows is made from: the worker's own, the Dockerfile's, the test run's
 * and the bench's. The failure converter is compiled in too: it seals failure messages, which can
 * quote customer data.
 */
export function workflowBundleOptions(): Pick<BundleOptions, 'workflowsPath' | 'workflowInterceptorModules' | 'failureConverterPath'> {
  return { workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES], failureConverterPath: FAILURE_CONVERTER_PATH };
}

/** Prebuilds the workflow bundle so a production worker starts without webpack. */
export async function buildWorkflowBundle(outFile: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ ...workflowBundleOptions(), logger: quietBundlerLogger });
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
