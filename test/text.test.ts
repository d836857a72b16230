import { cleanServerText, SERVER_TEXT_MAX, stripControl } from '../src/text';

describe('cleanServerText', () => {
  it('drops ANSI escape sequences and turns other control characters into spaces', () => {
    expect(stripControl('\x1b[2J\x1b[H\x1b[31mred\x1b[0m \x1b]0;title\x07ok\x9b1m')).toBe('red ok');
    expect(stripControl('line 1\r\nline 2\u0000\u202eevil')).toBe('line 1 line 2 evil');
    expect(cleanServerText('Offer "x" not found — été')).toBe('Offer "x" not found — été');
  });

  it('keeps the start of a long text and says how much was cut', () => {
    const text = cleanServerText('\x1b[2J' + 'a'.repeat(20_000_000));
    expect(text).toBe(
      `${'a'.repeat(SERVER_TEXT_MAX)}… (${20_000_000 - SERVER_TEXT_MAX} more characters cut)`,
    );
    // A surrogate pair is never split.
    expect(cleanServerText('a😀b', 2)).toBe('a… (3 more characters cut)');
  });
});
