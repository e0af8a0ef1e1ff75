// CSV cells for the audit export. Statements, application names and messages are chosen by whoever connects:
// a spreadsheet opening the export must not run one as a formula.

/**
 * What spreadsheets read as the start of a formula (OWASP's CSV injection list): = + - @, tab, CR and LF, and
 * their full-width forms, which some locales' Excel and LibreOffice take for the ASCII ones.
 */
const FORMULA_START = /^[=+\-@\t\r\n\uFF1D\uFF0B\uFF0D\uFF20]/;

/** One CSV cell: quoted when needed, arrays joined with ";", and formula-looking text defused with a quote. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text = Array.isArray(value) ? value.join(";") : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
