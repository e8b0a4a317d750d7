import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_VARIABLES } from '../../src/config';
import { TRACING_VARIABLES } from '../../src/tracing/settings';
import { DEV_PORTS } from '../../tools/stack';

/** The README is the contract with whoever clones the repo; these keep it from drifting from the code. */
const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
const section = (title: string) => readme.split(/^## /m).find((s) => s.startsWith(`${title}\n`)) ?? '';

describe('README', () => {
  it('starts with `npm start` and `npm test` as its first two commands', () => {
    const commands = [...readme.matchAll(/^```sh\n([\s\S]*?)```/gm)].flatMap((m) => (m[1] ?? '').split('\n').filter(Boolean));
    expect(commands.slice(0, 2)).toEqual(['npm start', 'npm test']);
  });

  it('documents every variable the service reads and every port variable of the stack', () => {
    const configuration = section('Configuration');
    const documented = new Set([...configuration.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    const expected = [...CONFIG_VARIABLES, ...Object.values(DEV_PORTS).map((p) => p.env)];
    expect(expected.filter((name) => !documented.has(name))).toEqual([]);
  });

  it('documents every OTEL_* variable the service checks in its Tracing section', () => {
    const tracing = readme.split(/^### /m).find((s) => s.startsWith('Tracing\n')) ?? '';
    const documented = new Set([...tracing.matchAll(/^\| (`OTEL_[A-Z_]+`(?:, `OTEL_[A-Z_]+`)*) \|/gm)].flatMap((m) => [...(m[1] ?? '').matchAll(/`([A-Z_]+)`/g)].map((v) => v[1])));
    expect(TRACING_VARIABLES.filter((name) => !documented.has(name))).toEqual([]);
  });
});
