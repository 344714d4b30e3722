import { configError } from "../xen/errors.js";

/** A value in an xl domain configuration file, with the line it starts on. */
export type XlValue =
  | { kind: "string"; value: string; line: number }
  | { kind: "number"; text: string; line: number }
  | { kind: "list"; items: XlValue[]; line: number };

/** One `name = value` setting and the line it started on. */
export interface XlSetting {
  readonly name: string;
  readonly value: XlValue;
  readonly line: number;
}

/**
 * Parse an xl domain configuration (`xl.cfg(5)`) the way libxlu does: `name = value` settings
 * separated by newlines or `;`; values are strings in single or double quotes (with C escapes:
 * `\\ \' \" \a \b \f \n \r \t \v \xHH \ooo`), numbers (`[0-9][0-9a-fx]*`), or lists `[ ... ]`
 * that may span lines and end with a comma; `#` starts a comment; `name += value` appends to a
 * list or string set earlier. Names are `[a-z][_0-9a-z]*`, as libxlu's lexer accepts. A later
 * setting of the same name replaces an earlier one, as in xl.
 *
 * Errors name `file:line` and what was expected; nothing is returned on error.
 */
export function parseXlConfig(text: string, file = "<config>"): Map<string, XlSetting> {
  return new Parser(text, file).parse();
}

type Token =
  | { t: "ident"; v: string; line: number }
  | { t: "string"; v: string; line: number }
  | { t: "number"; v: string; line: number }
  | { t: "punct"; v: "=" | "+=" | "[" | "]" | "," | ";"; line: number }
  | { t: "newline"; line: number }
  | { t: "eof"; line: number };

class Parser {
  private pos = 0;
  private line = 1;
  private tok: Token;

  constructor(
    private readonly src: string,
    private readonly file: string,
  ) {
    this.tok = this.next();
  }

  parse(): Map<string, XlSetting> {
    const out = new Map<string, XlSetting>();
    for (;;) {
      while (this.isNewline() || this.isPunct(";")) this.advance();
      if (this.cur().t === "eof") return out;
      const head = this.cur();
      if (head.t !== "ident") this.fail(`expected a setting name, found ${describe(head)}`);
      const name = head.v;
      const line = head.line;
      this.advance();
      const op = this.cur();
      if (op.t !== "punct" || (op.v !== "=" && op.v !== "+="))
        this.fail(`expected '=' after '${name}', found ${describe(op)}`);
      this.advance();
      let value = this.value();
      if (op.v === "+=") {
        const prev = out.get(name);
        if (prev)
          value = concat(prev.value, value, () =>
            this.fail(`'${name} +=' needs the same type as before`, line),
          );
      }
      out.set(name, { name, value, line });
      const end = this.cur();
      if (!(end.t === "newline" || end.t === "eof" || (end.t === "punct" && end.v === ";"))) {
        this.fail(`expected end of line after the value of '${name}', found ${describe(end)}`);
      }
    }
  }

  private value(): XlValue {
    const tok = this.cur();
    if (tok.t === "string") {
      this.advance();
      return { kind: "string", value: tok.v, line: tok.line };
    }
    if (tok.t === "number") {
      this.advance();
      return { kind: "number", text: tok.v, line: tok.line };
    }
    if (tok.t === "punct" && tok.v === "[") {
      this.advance();
      const items: XlValue[] = [];
      for (;;) {
        while (this.cur().t === "newline") this.advance();
        if (this.isPunct("]")) {
          this.advance();
          return { kind: "list", items, line: tok.line };
        }
        items.push(this.value());
        while (this.cur().t === "newline") this.advance();
        const sep = this.cur();
        if (sep.t === "punct" && sep.v === ",") {
          this.advance();
          continue;
        }
        if (sep.t === "punct" && sep.v === "]") continue;
        this.fail(`expected ',' or ']' in a list, found ${describe(sep)}`);
      }
    }
    return this.fail(`expected a value (a quoted string, a number or a [list]), found ${describe(tok)}`);
  }

  private isNewline(): boolean {
    return this.tok.t === "newline";
  }

  private isPunct(v: string): boolean {
    return this.tok.t === "punct" && this.tok.v === v;
  }

  /** The current token (a method, so TypeScript does not keep a narrowing across `advance`). */
  private cur(): Token {
    return this.tok;
  }

  private advance(): void {
    this.tok = this.next();
  }

  private next(): Token {
    const s = this.src;
    for (;;) {
      const c = s[this.pos];
      if (c === undefined) return { t: "eof", line: this.line };
      if (c === " " || c === "\t" || c === "\r") {
        this.pos++;
        continue;
      }
      if (c === "#") {
        while (this.pos < s.length && s[this.pos] !== "\n") this.pos++;
        continue;
      }
      if (c === "\n") {
        this.pos++;
        this.line++;
        return { t: "newline", line: this.line - 1 };
      }
      const line = this.line;
      if (c === "+" && s[this.pos + 1] === "=") {
        this.pos += 2;
        return { t: "punct", v: "+=", line };
      }
      if (c === "=" || c === "[" || c === "]" || c === "," || c === ";") {
        this.pos++;
        return { t: "punct", v: c, line };
      }
      if (c === '"' || c === "'") return { t: "string", v: this.string(c), line };
      if (/[a-z]/.test(c)) {
        const m = /^[a-z][_0-9a-z]*/.exec(s.slice(this.pos))!;
        this.pos += m[0].length;
        return { t: "ident", v: m[0], line };
      }
      if (/[0-9]/.test(c)) {
        const m = /^[0-9][0-9a-fx]*/.exec(s.slice(this.pos))!;
        this.pos += m[0].length;
        return { t: "number", v: m[0], line };
      }
      return this.fail(`unexpected character ${JSON.stringify(c)}`);
    }
  }

  private string(quote: string): string {
    const s = this.src;
    const line = this.line;
    let out = "";
    this.pos++;
    for (;;) {
      const c = s[this.pos];
      if (c === undefined || c === "\n")
        return this.fail(`unterminated string (missing closing ${quote})`, line);
      this.pos++;
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = s[this.pos++];
      const simple: Record<string, string> = {
        '"': '"',
        "'": "'",
        "\\": "\\",
        a: "\x07",
        b: "\b",
        f: "\f",
        n: "\n",
        r: "\r",
        t: "\t",
        v: "\v",
      };
      if (e !== undefined && e in simple) {
        out += simple[e];
      } else if (e === "x") {
        const m = /^[0-9a-fA-F]{2}/.exec(s.slice(this.pos));
        if (!m) return this.fail("invalid escape \\x (expected two hex digits)", line);
        out += String.fromCharCode(Number.parseInt(m[0], 16));
        this.pos += 2;
      } else if (e !== undefined && /[0-7]/.test(e)) {
        const m = /^[0-7]{1,3}/.exec(s.slice(this.pos - 1))!;
        out += String.fromCharCode(Number.parseInt(m[0], 8) & 0xff);
        this.pos += m[0].length - 1;
      } else {
        return this.fail(`invalid escape \\${e ?? ""} in a string`, line);
      }
    }
  }

  private fail(message: string, line = this.tok?.line ?? this.line): never {
    throw configError(`${this.file}:${line}`, `config parsing error: ${message}`);
  }
}

function concat(a: XlValue, b: XlValue, fail: () => never): XlValue {
  if (a.kind === "list" && b.kind === "list")
    return { kind: "list", items: [...a.items, ...b.items], line: a.line };
  if (a.kind === "string" && b.kind === "string")
    return { kind: "string", value: a.value + b.value, line: a.line };
  return fail();
}

function describe(t: Token): string {
  switch (t.t) {
    case "eof":
      return "end of file";
    case "newline":
      return "end of line";
    case "string":
      return `string ${JSON.stringify(t.v)}`;
    default:
      return `'${t.v}'`;
  }
}

/** The string value of `name`, or undefined; an error naming the line when it is not a string. */
export function xlString(cfg: Map<string, XlSetting>, name: string, file: string): string | undefined {
  const s = cfg.get(name);
  if (s === undefined) return undefined;
  if (s.value.kind !== "string") throw configError(`${file}:${s.line}`, `'${name}' must be a quoted string`);
  return s.value.value;
}

/** The list of strings `name`, or []; an error naming the line when it is anything else. */
export function xlStringList(
  cfg: Map<string, XlSetting>,
  name: string,
  file: string,
): Array<{ value: string; line: number }> {
  const s = cfg.get(name);
  if (s === undefined) return [];
  if (s.value.kind !== "list")
    throw configError(`${file}:${s.line}`, `'${name}' must be a list [ '...', ... ]`);
  return s.value.items.map((item) => {
    if (item.kind !== "string")
      throw configError(`${file}:${item.line}`, `every item of '${name}' must be a quoted string`);
    return { value: item.value, line: item.line };
  });
}
