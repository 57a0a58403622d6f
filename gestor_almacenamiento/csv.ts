/**
 * Minimal RFC 4180 CSV reader: comma separated, fields may be quoted with ""
 * as an escaped quote, and quoted fields may hold commas and line breaks.
 * Each record carries the line number it starts on, for error messages.
 */
export interface CsvRecord {
  line: number;
  fields: string[];
}

export class CsvSyntaxError extends Error {
  override name = 'CsvSyntaxError';
  constructor(readonly line: number, message: string) {
    super(`línea ${line}: ${message}`);
  }
}

export function parseCsv(text: string): CsvRecord[] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // BOM from spreadsheet exports
  const out: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  while (i < src.length) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    let afterQuote = false;
    for (;;) {
      if (i >= src.length) {
        if (quoted) throw new CsvSyntaxError(start, 'comillas sin cerrar');
        fields.push(field);
        break;
      }
      const c = src[i]!;
      if (quoted) {
        if (c === '"') {
          if (src[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            afterQuote = true;
            i++;
          }
        } else {
          if (c === '\n') line++;
          field += c;
          i++;
        }
        continue;
      }
      if (c === ',') {
        fields.push(field);
        field = '';
        afterQuote = false;
        i++;
      } else if (c === '\n' || c === '\r') {
        fields.push(field);
        i += c === '\r' && src[i + 1] === '\n' ? 2 : 1;
        line++;
        break;
      } else if (c === '"' && field.trim() === '' && !afterQuote) {
        quoted = true;
        field = '';
        i++;
      } else if (afterQuote) {
        if (c === ' ' || c === '\t') {
          i++;
        } else {
          throw new CsvSyntaxError(line, `texto después de las comillas de cierre: '${c}'`);
        }
      } else {
        field += c;
        i++;
      }
    }
    // Blank lines (also a trailing newline) are not records.
    if (!(fields.length === 1 && fields[0]!.trim() === '')) out.push({ line: start, fields });
  }
  return out;
}
