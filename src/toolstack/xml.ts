import { configError } from "../xen/errors.js";

/**
 * A small XML reader and writer for libvirt's domain XML: elements, attributes, text, comments
 * and the XML declaration; the five predefined entities and numeric character references.
 * No DTDs, no external entities (nothing a file names is ever fetched), no namespaces beyond
 * keeping `prefix:name` and `xmlns:*` attributes as they are. Enough for `<domain>` documents;
 * anything else is an error naming the line.
 */

/** An element: its name, attributes in document order, and children. */
export interface XmlElement {
  readonly name: string;
  readonly attrs: ReadonlyArray<readonly [string, string]>;
  readonly children: ReadonlyArray<XmlElement | string>;
  /** Line of its start tag in the parsed text (0 when built in code). */
  readonly line: number;
}

/** An element built in code. */
export function el(
  name: string,
  attrs: Record<string, string | number | undefined> = {},
  children: ReadonlyArray<XmlElement | string> = [],
): XmlElement {
  const a: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a.push([k, String(v)]);
  return { name, attrs: a, children, line: 0 };
}

/** The value of attribute `name`, or undefined. */
export function attr(e: XmlElement, name: string): string | undefined {
  for (const [k, v] of e.attrs) if (k === name) return v;
  return undefined;
}

/** The child elements named `name`. */
export function childrenNamed(e: XmlElement, name: string): XmlElement[] {
  return e.children.filter((c): c is XmlElement => typeof c !== "string" && c.name === name);
}

/** The single child element named `name`, or undefined (two of them is an error). */
export function child(e: XmlElement, name: string, file: string): XmlElement | undefined {
  const all = childrenNamed(e, name);
  if (all.length > 1) throw configError(`${file}:${all[1]!.line}`, `<${e.name}> has more than one <${name}>`);
  return all[0];
}

/** The element's text content, trimmed. */
export function textOf(e: XmlElement): string {
  return e.children
    .filter((c): c is string => typeof c === "string")
    .join("")
    .trim();
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*/;
const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Parse a document with one root element. Errors name `file:line`. */
export function parseXml(text: string, file: string): XmlElement {
  let pos = 0;
  let line = 1;
  const fail = (msg: string): never => {
    throw configError(`${file}:${line}`, `XML: ${msg}`);
  };
  const advance = (n: number) => {
    for (let i = 0; i < n; i++) if (text.charCodeAt(pos + i) === 10) line++;
    pos += n;
  };
  const skipSpace = () => {
    while (pos < text.length && /\s/.test(text[pos]!)) advance(1);
  };
  const decode = (raw: string): string =>
    raw.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[a-z]+);|&/g, (m, ent: string | undefined) => {
      if (ent === undefined) return fail("'&' must start an entity (&amp;, &lt;, ...)");
      if (ent.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ent.slice(2), 16));
      if (ent.startsWith("#")) return String.fromCodePoint(Number.parseInt(ent.slice(1), 10));
      const v = ENTITIES[ent];
      return v ?? fail(`unknown entity ${m}`);
    });
  const skipMisc = () => {
    for (;;) {
      skipSpace();
      if (text.startsWith("<?", pos)) {
        const end = text.indexOf("?>", pos);
        if (end < 0) fail("unterminated '<?'");
        advance(end + 2 - pos);
      } else if (text.startsWith("<!--", pos)) {
        const end = text.indexOf("-->", pos + 4);
        if (end < 0) fail("unterminated comment");
        advance(end + 3 - pos);
      } else if (text.startsWith("<!", pos)) {
        fail("DOCTYPE and other declarations are not accepted");
      } else return;
    }
  };
  const element = (depth: number): XmlElement => {
    if (depth > 64) fail("elements nested deeper than 64");
    const startLine = line;
    if (text[pos] !== "<") fail("expected '<'");
    advance(1);
    const m = NAME.exec(text.slice(pos, pos + 256));
    if (!m) fail("expected an element name after '<'");
    const name = m![0];
    advance(name.length);
    const attrs: Array<[string, string]> = [];
    for (;;) {
      skipSpace();
      if (text.startsWith("/>", pos)) {
        advance(2);
        return { name, attrs, children: [], line: startLine };
      }
      if (text[pos] === ">") {
        advance(1);
        break;
      }
      const a = NAME.exec(text.slice(pos, pos + 256));
      if (!a) fail(`expected an attribute name or '>' in <${name}>`);
      const an = a![0];
      advance(an.length);
      skipSpace();
      if (text[pos] !== "=") fail(`expected '=' after attribute ${an}`);
      advance(1);
      skipSpace();
      const q = text[pos];
      if (q !== '"' && q !== "'") fail(`attribute ${an}'s value must be quoted`);
      const end = text.indexOf(q!, pos + 1);
      if (end < 0) fail(`unterminated value of attribute ${an}`);
      const raw = text.slice(pos + 1, end);
      if (raw.includes("<")) fail(`'<' in the value of attribute ${an}`);
      if (attrs.some(([k]) => k === an)) fail(`attribute ${an} given twice in <${name}>`);
      attrs.push([an, decode(raw)]);
      advance(end + 1 - pos);
    }
    const children: Array<XmlElement | string> = [];
    for (;;) {
      if (pos >= text.length) fail(`<${name}> (line ${startLine}) is not closed`);
      if (text.startsWith("</", pos)) {
        advance(2);
        if (!text.startsWith(name, pos)) fail(`</...> does not close <${name}> (line ${startLine})`);
        advance(name.length);
        skipSpace();
        if (text[pos] !== ">") fail(`expected '>' to close </${name}`);
        advance(1);
        return { name, attrs, children, line: startLine };
      }
      if (text.startsWith("<!--", pos)) {
        const end = text.indexOf("-->", pos + 4);
        if (end < 0) fail("unterminated comment");
        advance(end + 3 - pos);
      } else if (text.startsWith("<![CDATA[", pos)) {
        const end = text.indexOf("]]>", pos);
        if (end < 0) fail("unterminated CDATA section");
        children.push(text.slice(pos + 9, end));
        advance(end + 3 - pos);
      } else if (text[pos] === "<") {
        children.push(element(depth + 1));
      } else {
        const end = text.indexOf("<", pos);
        const raw = text.slice(pos, end < 0 ? text.length : end);
        children.push(decode(raw));
        advance(raw.length);
      }
    }
  };
  skipMisc();
  if (pos >= text.length) fail("no root element");
  const root = element(0);
  skipMisc();
  if (pos < text.length) fail("content after the root element");
  return root;
}

const escapeText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const escapeAttr = (s: string) => escapeText(s).replace(/'/g, "&apos;");

/**
 * Write an element as libvirt writes domain XML: two-space indentation, attributes in single
 * quotes, empty elements as `<x/>`, an element with only text on one line.
 */
export function serializeXml(e: XmlElement, indent = ""): string {
  const attrs = e.attrs.map(([k, v]) => ` ${k}='${escapeAttr(v)}'`).join("");
  if (e.children.length === 0) return `${indent}<${e.name}${attrs}/>\n`;
  if (e.children.every((c) => typeof c === "string"))
    return `${indent}<${e.name}${attrs}>${escapeText(e.children.join(""))}</${e.name}>\n`;
  let out = `${indent}<${e.name}${attrs}>\n`;
  for (const c of e.children) {
    if (typeof c === "string") {
      if (c.trim() !== "") out += `${indent}  ${escapeText(c.trim())}\n`;
    } else out += serializeXml(c, `${indent}  `);
  }
  return `${out}${indent}</${e.name}>\n`;
}
