import { forbiddenCharacter } from '../application/validation';

/**
 * What the CLI prints. Human output is aligned for a terminal; `--json` prints exactly one JSON
 * document on stdout, so scripts never have to scrape the human form.
 */

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  stderr: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/**
 * The CLI's output with every control character but the line feed, every bidi override and every
 * unpaired surrogate written as a `\uXXXX` escape: data from a checkout, or an argument quoted in
 * an error, can then never move the cursor, recolour or clear the operator's terminal or reorder
 * what it shows. Inside `--json` output such characters only occur within strings, where the
 * escape is the same JSON, so that stays one valid document.
 */
export function terminalSafe(io: Io): Io {
  return { stdout: (text) => io.stdout(escapeForTerminal(text)), stderr: (text) => io.stderr(escapeForTerminal(text)) };
}

export function escapeForTerminal(text: string): string {
  let out = '';
  for (const char of text) {
    out += char !== '\n' && forbiddenCharacter(char) ? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}` : char;
  }
  return out;
}

/** `Label   value` lines with the values in one column; a multi-line value stays in that column. */
export function fields(rows: [label: string, value: string | undefined | null][]): string {
  const shown = rows.filter((r): r is [string, string] => r[1] !== undefined && r[1] !== null && r[1] !== '');
  const width = Math.max(...shown.map(([label]) => label.length)) + 2;
  return shown
    .map(([label, value]) =>
      value
        .split('\n')
        .map((line, i) => (i === 0 ? label.padEnd(width) : ' '.repeat(width)) + line)
        .join('\n'),
    )
    .join('\n');
}

/** A table with a header row; columns as wide as their widest cell, the last one left ragged. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `2025-11-22 02:40:01Z`: sortable, unambiguous, and short enough for a table. */
export function formatTime(value: Date | string | undefined | null): string {
  if (!value) return '';
  const date = typeof value === 'string' ? new Date(value) : value;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}
