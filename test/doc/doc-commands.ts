/** Finding the `llama2-embed` command lines in a Markdown file, for test/doc/commands.spec.ts. */

export interface DocumentedCommand {
  file: string;
  /** 1-based line in the file. */
  line: number;
  /** `run`: a complete command line from a shell block; `synopsis`: a usage line with placeholders, or a command quoted in prose. */
  kind: 'run' | 'synopsis';
  /** The words after `llama2-embed`. */
  words: string[];
  /** The options named (`--quant`, `-m`), for a synopsis. */
  flags: string[];
}

/** Splits a command line into words as a POSIX shell would (quotes, backslashes), without expansions. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word = (word ?? '') + line.slice(i + 1, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`'.includes(line[j + 1])) j++;
        text += line[j++];
      }
      word = (word ?? '') + text;
      i = j;
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** Cuts a shell line at a comment (`#` at the start of a word, outside quotes). */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

/** The commands of a shell line joined by `&&`, `||` or `;` (outside quotes). */
function splitCommands(line: string): string[] {
  const parts: string[] = [];
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ';' || ((c === '&' || c === '|') && line[i + 1] === c)) {
      parts.push(line.slice(start, i));
      start = c === ';' ? i + 1 : i + 2;
      i = start - 1;
    }
  }
  parts.push(line.slice(start));
  return parts.map((p) => p.trim());
}

/** The words after `llama2-embed` (or `npm start --`), once `$ ` and `VAR=value` prefixes are dropped. */
function invocation(command: string): string[] | undefined {
  const words = shellWords(command.replace(/^\$\s+/, ''));
  while (words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) words.shift();
  if (words[0] === 'npx') words.shift();
  if (words[0] === 'llama2-embed') return words.slice(1);
  if (words[0] === 'npm' && words[1] === 'start' && words[2] === '--') return words.slice(3);
  return undefined;
}

/** A placeholder, as in a usage line: `[-m MODEL]`, `PATH|auto`, `…`. */
const isSynopsis = (words: string[]): boolean =>
  words.some((w) => /[[\]…]|\.\.\./.test(w) || /^[A-Z][A-Z0-9_]+$/.test(w) || (w.includes('|') && !w.startsWith('-')));

const flagsOf = (words: string[]): string[] =>
  words
    .flatMap((w) => w.split('|'))
    .map((w) => w.replace(/^\[+/, '').replace(/[\]=].*$/, ''))
    .filter((w) => /^--?[a-zA-Z]/.test(w));

export function documentedCommands(file: string, text: string): DocumentedCommand[] {
  const found: DocumentedCommand[] = [];
  const add = (line: number, words: string[], fromProse: boolean) => {
    if (words.length === 0 || words.some((w) => w === '--help' || w === '-h' || w === '--version')) return;
    // `llama2-embed …` or `llama2-embed COMMAND`: the program in general, no command to check.
    if (/^[[…]|^\.\.\.|^[A-Z][A-Z0-9_]*$/.test(words[0])) return;
    const kind = fromProse || isSynopsis(words) ? 'synopsis' : 'run';
    found.push({ file, line, kind, words, flags: kind === 'synopsis' ? flagsOf(words) : [] });
  };
  const lines = text.split('\n');
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const opening = /^\s*(```+)\s*(\w*)/.exec(raw);
    if (opening) {
      fence = fence === undefined ? opening[2] || 'text' : undefined;
      continue;
    }
    if (fence !== undefined) {
      if (!['sh', 'bash', 'shell', 'console', 'text'].includes(fence)) continue;
      let line = raw;
      while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i].trim()}`;
      for (const command of splitCommands(withoutComment(line))) {
        const words = invocation(command);
        if (words) add(i + 1, words, false);
      }
      continue;
    }
    for (const span of raw.matchAll(/`(llama2-embed [^`]+)`/g)) {
      const words = invocation(span[1]);
      if (words) add(i + 1, words, true);
    }
  }
  return found;
}
