/** `bin/main query`'s value formatting (src/warehouse/format.ts), on DuckDB values built in JS. */
import {
  arrayValue,
  dateValue,
  decimalValue,
  DuckDBTimestampTZValue,
  DuckDBTypeId,
  listValue,
  mapValue,
  structValue,
  timestampTZValue,
  timestampValue,
  unionValue,
} from '@duckdb/node-api';
import {
  cellText,
  CELL_MAX,
  csvLine,
  jsonRow,
  jsonText,
  outputColumn,
  plainValue,
  renderTable,
} from '../src/warehouse/format';

const json = (v: Parameters<typeof plainValue>[0], isJson = false) =>
  jsonText(plainValue(v, isJson));

describe('values made plain', () => {
  test('timestamps are ISO 8601 in UTC, microseconds kept, before 1970 too', () => {
    expect(json(timestampTZValue(1_714_564_800_000_000n))).toBe('"2024-05-01T12:00:00.000Z"');
    expect(json(timestampTZValue(1_714_564_800_123_456n))).toBe('"2024-05-01T12:00:00.123456Z"');
    expect(json(timestampTZValue(-1n))).toBe('"1969-12-31T23:59:59.999999Z"');
    expect(json(timestampTZValue(-1000n))).toBe('"1969-12-31T23:59:59.999Z"');
    // A TIMESTAMP has no zone: no Z.
    expect(json(timestampValue(0n))).toBe('"1970-01-01T00:00:00.000"');
    // Infinity is beyond a JS date: DuckDB's own text.
    expect(json(DuckDBTimestampTZValue.PosInf)).toBe('"infinity"');
    expect(json(dateValue(0))).toBe('"1970-01-01"');
  });

  test('integers and decimals keep their exact digits', () => {
    expect(json(9_007_199_254_740_993n)).toBe('9007199254740993');
    expect(json(decimalValue(12_345_678_901_234_567_890_123_456_789n, 38, 9))).toBe(
      '12345678901234567890.123456789',
    );
    expect(json(0.1)).toBe('0.1');
    expect(json(Number.NaN)).toBe('"NaN"');
    expect(json(-Infinity)).toBe('"-Infinity"');
  });

  test('lists, structs and maps are JSON; a JSON column is embedded as it is', () => {
    expect(json(listValue(['a', null, 'c"']))).toBe('["a",null,"c\\""]');
    expect(json(arrayValue([1, 2]))).toBe('[1,2]');
    expect(json(structValue({ a: 1, b: listValue([]) }))).toBe('{"a":1,"b":[]}');
    expect(json(mapValue([{ key: 'k', value: 2 }]))).toBe('{"k":2}');
    expect(json(mapValue([{ key: 1, value: 'one' }]))).toBe('[{"key":1,"value":"one"}]');
    expect(json(unionValue('num', 5))).toBe('5');
    expect(json('{"n": 1.000000000000000001}', true)).toBe('{"n": 1.000000000000000001}');
    expect(json('plain')).toBe('"plain"');
    expect(json(null)).toBe('null');
  });
});

describe('output', () => {
  const columns = [
    outputColumn('name', DuckDBTypeId.VARCHAR),
    outputColumn('amount', DuckDBTypeId.DECIMAL),
    outputColumn('data', DuckDBTypeId.VARCHAR, 'JSON'),
  ];
  expect(columns[1].numeric).toBe(true);
  expect(columns[2].json).toBe(true);

  test('CSV quotes per RFC 4180; NULL is empty, an empty string is ""', () => {
    const row = [
      plainValue('a,"b"\r\nc'),
      plainValue(null),
      plainValue(''),
      plainValue(listValue(['x'])),
    ];
    expect(csvLine(row)).toBe('"a,""b""\r\nc",,"","[""x""]"');
    expect(csvLine([plainValue('plain'), plainValue(2n)])).toBe('plain,2');
  });

  test('a JSON row is keyed by column name', () => {
    const row = [plainValue('n'), plainValue(decimalValue(150n, 5, 2)), plainValue('[1]', true)];
    expect(JSON.parse(jsonRow(columns, row))).toEqual({ name: 'n', amount: 1.5, data: [1] });
    expect(jsonRow(columns, row)).toContain('"amount":1.50');
  });

  test('a table cell spells NULL, escapes newlines and tabs, strips escapes, cuts long text', () => {
    expect(cellText(null)).toBe('NULL');
    expect(cellText('a\nb\tc\u001b[31m')).toBe('a\\nb\\tc');
    const long = 'é'.repeat(CELL_MAX + 5);
    expect(cellText(long)).toBe('é'.repeat(CELL_MAX - 1) + '…');
    expect([...cellText(long)]).toHaveLength(CELL_MAX);
  });

  test('a table narrower than the terminal: the widest columns are narrowed', () => {
    const rows = [
      [
        plainValue('x'.repeat(30)),
        plainValue(1n),
        plainValue('{"k":"' + 'v'.repeat(30) + '"}', true),
      ],
    ];
    const wide = renderTable(columns, rows).split('\n');
    expect(wide[2]).toContain('x'.repeat(30));
    const narrow = renderTable(columns, rows, 50).split('\n');
    for (const line of narrow) expect([...line].length).toBeLessThanOrEqual(50);
    expect(narrow[2]).toContain('…');
    // Numbers are right-aligned.
    expect(narrow[2]).toMatch(/│ +1 │/);
  });
});
