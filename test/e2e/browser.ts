import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ARTIFACTS_DIR = path.resolve(__dirname, '../artifacts');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * The stack's Chromium when it provides one (tools/stack/chromium.ts), else Debian's package. Loaded
 * at run time so these tests do not depend on that module existing at compile time.
 */
async function chromiumPath(): Promise<string> {
  const stackModule = path.resolve(__dirname, '../../tools/stack/chromium.ts');
  if (existsSync(stackModule)) {
    const { ensureChromium } = (await import(stackModule)) as { ensureChromium?: () => Promise<string | { executablePath: string }> };
    if (ensureChromium) {
      const found = await ensureChromium();
      return typeof found === 'string' ? found : found.executablePath;
    }
  }
  const fallback = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(fallback)) throw new Error(`no Chromium at ${fallback}: install Debian's \`chromium\` package or set CHROMIUM_PATH`);
  return fallback;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: await chromiumPath(), args: CHROMIUM_ARGS, headless: true });
}

/** Full-page screenshot in test/artifacts/<name>.png, the end state a person would have seen. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
