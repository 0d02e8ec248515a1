/**
 * A small XML well-formedness check for the SVG we write (not a spec file): tags balanced and
 * properly nested, attributes double-quoted and not repeated, `<` never in text or attribute
 * values, `&` only as an entity. It does not handle comments, CDATA or processing instructions,
 * which the report never writes (they are reported as errors).
 */
const NAME = '[A-Za-z_][\\w.:-]*';
const TAG = new RegExp(`<(/?)(${NAME})((?:\\s+${NAME}\\s*=\\s*"[^"<]*")*)\\s*(/?)>`, 'y');
const ATTRIBUTE = new RegExp(`(${NAME})\\s*=\\s*"([^"<]*)"`, 'g');
const BAD_AMPERSAND = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

/** Problems with `xml` as one XML element; empty when it is well-formed. */
export function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  let at = 0;
  let roots = 0;
  while (at < xml.length) {
    const lt = xml.indexOf('<', at);
    const textEnd = lt === -1 ? xml.length : lt;
    const textPart = xml.slice(at, textEnd);
    if (BAD_AMPERSAND.test(textPart)) problems.push(`a bare & in text near offset ${at}: ${JSON.stringify(textPart.slice(0, 40))}`);
    if (stack.length === 0 && textPart.trim() !== '') problems.push(`text outside the root element near offset ${at}`);
    if (lt === -1) break;
    TAG.lastIndex = lt;
    const m = TAG.exec(xml);
    if (!m) {
      problems.push(`not a well-formed tag at offset ${lt}: ${JSON.stringify(xml.slice(lt, lt + 60))}`);
      break;
    }
    const [, closing, name, attrs, selfClosing] = m;
    const seen = new Set<string>();
    for (const a of attrs.matchAll(ATTRIBUTE)) {
      if (seen.has(a[1])) problems.push(`attribute ${a[1]} repeated in <${name}> at offset ${lt}`);
      seen.add(a[1]);
      if (BAD_AMPERSAND.test(a[2])) problems.push(`a bare & in attribute ${a[1]} of <${name}> at offset ${lt}`);
    }
    if (closing) {
      if (attrs.trim() || selfClosing) problems.push(`a closing tag with attributes at offset ${lt}`);
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> at offset ${lt} closes <${open ?? 'nothing'}>`);
    } else {
      if (stack.length === 0) roots++;
      if (!selfClosing) stack.push(name);
    }
    at = TAG.lastIndex;
  }
  if (stack.length) problems.push(`unclosed: ${stack.map((s) => `<${s}>`).join(' ')}`);
  if (roots !== 1) problems.push(`${roots} root elements, expected 1`);
  return problems;
}

/** Every `<svg ...>...</svg>` element in an HTML text. */
export function svgElements(html: string): string[] {
  return html.match(/<svg[\s>][\s\S]*?<\/svg>/g) ?? [];
}
