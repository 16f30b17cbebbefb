/**
 * One CSV line (no line ending) from values: numbers, booleans and bigints as text, null and
 * undefined as empty, strings quoted only when they hold a comma, quote, CR or LF. Arrays are
 * flattened in order and objects replaced by their values in key order. A line of a single empty
 * cell is written `""`, because an empty line would not be read back as a record.
 */
export function toCsvRow(values: readonly unknown[]): string {
  const cells: string[] = [];
  addCells(values, cells);
  if (cells.length === 1 && cells[0] === '') return '""';
  return cells.join(',');
}

const NEEDS_QUOTES = /[",\r\n]/;

function csvCell(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function addCells(value: unknown, cells: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) addCells(item, cells);
  } else if (value === null || value === undefined) {
    cells.push('');
  } else if (typeof value === 'string') {
    cells.push(csvCell(value));
  } else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    cells.push(String(value));
  } else if (typeof value === 'object') {
    for (const item of Object.values(value)) addCells(item, cells);
  } else {
    cells.push(csvCell(String(value)));
  }
}
