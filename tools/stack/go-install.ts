import { existsSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, cacheLogFile, ensureCached } from './cache';
import { progress, formatDuration } from './progress';
import { requireTool, runCommand } from './processes';

export interface GoTool {
  /** Cache entry and binary name: `<cache>/<name>-<version>/<binary>`. */
  name: string;
  binary: string;
  version: string;
  /** `go install` package path, without the version. */
  packagePath: string;
  /** Shown before a long build, so the wait is expected. */
  expectedDuration: string;
  /** The `go` line of the module's go.mod: an older Go refuses to build it (GOTOOLCHAIN=local). */
  minGoVersion?: string;
}

/**
 * Builds a Go binary from the Go module proxy into the cache once (`GOBIN=<cache dir> go install
 * pkg@version`); later starts only check the file exists.
 */
export async function ensureGoTool(tool: GoTool): Promise<string> {
  const dir = cacheDir(tool.name, tool.version);
  const binaryIn = (d: string) => path.join(d, tool.binary);
  await ensureCached(
    dir,
    (d) => existsSync(binaryIn(d)),
    async (scratch) => {
      const go = requireTool(
        'go',
        `to build ${tool.name} ${tool.version} into ${dir}`,
        `install Go ${tool.minGoVersion ?? '1.23'} or newer (\`apt-get install -y golang-go\` or https://go.dev/dl) and make sure \`go\` is on PATH`,
      );
      const logFile = cacheLogFile(`${tool.name}-install`);
      const started = Date.now();
      progress.line(`  building ${tool.name} ${tool.version} with go install (${tool.expectedDuration}, once per machine; log: ${logFile})`);
      await runCommand(go, ['install', `${tool.packagePath}@v${tool.version}`], {
        label: `building ${tool.name} ${tool.version}`,
        logFile,
        env: { ...process.env, GOBIN: scratch },
        progressEveryMs: 15_000,
      });
      progress.line(`  built ${tool.name} ${tool.version} in ${formatDuration(Date.now() - started)}`);
    },
  );
  return binaryIn(dir);
}
