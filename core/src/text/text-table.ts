/**
 * renderTable lays rows out in aligned columns under a header, the way `ip` or `kubectl get` do.
 */
export function renderTable(headers: string[], rows: string[][], indent = ''): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c))))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** width counts code points, so "→" and "µ" take one column. */
function width(s: string): number {
  return [...s].length;
}
