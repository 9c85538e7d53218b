#!/usr/bin/env node
/**
 * Prints the largest source files and functions under each folder it is
 * given (default ts/, cpp/ and crates/), in lines, so that a change can say
 * what it did to the biggest things a reader has to hold in mind:
 *
 *   node scripts/largest-source.mjs [--json] [--top N] [folder ...]
 *
 * TypeScript functions (declarations, methods, constructors, accessors,
 * arrow functions and function expressions) come from the TypeScript
 * compiler's syntax tree; a function nested in another counts inside it and
 * on its own. Rust and C++ functions are found by their braces, with
 * comments and string and character literals blanked first: a Rust block
 * whose header has `fn name(`, a C++ block whose header ends in `)` (then
 * const, noexcept, override, final or a trailing return type) and is not a
 * control statement, outside any other function. Generated code
 * (ts/generated/) and build output are left out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const EXTENSIONS = new Map([
  ['.ts', 'ts'],
  ['.mts', 'ts'],
  ['.rs', 'rust'],
  ['.cpp', 'cpp'],
  ['.cc', 'cpp'],
  ['.h', 'cpp'],
  ['.hpp', 'cpp'],
]);
const SKIPPED_DIRS = new Set(['node_modules', 'target', 'dist', 'build', 'generated', '.git']);
const DEFAULT_FOLDERS = ['ts', 'cpp', 'crates'];
const DEFAULT_TOP = 3;

/** Every source file below `folder`, with its language. */
function sourceFiles(folder) {
  const found = [];
  const entries = readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name)) found.push(...sourceFiles(full));
    } else if (entry.isFile() && !entry.name.endsWith('.d.ts')) {
      const language = EXTENSIONS.get(path.extname(entry.name));
      if (language) found.push({ file: full, language });
    }
  }
  return found;
}

function lineCount(text) {
  return text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** The functions of a TypeScript source: name, first line (1-based) and lines. */
function typescriptFunctions(text, file = 'source.ts') {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const functions = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      const last = source.getLineAndCharacterOfPosition(node.end).line + 1;
      functions.push({ name: functionName(node), line: first, lines: last - first + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return functions;
}

function functionName(node) {
  if (node.name !== undefined) return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertyAssignment(parent))) return parent.name.getText();
  return '(anonymous)';
}

/**
 * `text` with comments and string and character literals replaced by spaces
 * (newlines kept), so that braces and parentheses in them do not count.
 * Rust lifetimes ('a) are not character literals; raw strings of both
 * languages (r#"..."#, R"delim(...)delim") are blanked whole.
 */
function blankLiterals(text, language) {
  const out = [...text];
  const blank = (from, to) => {
    for (let i = from; i < to; i += 1) if (out[i] !== '\n') out[i] = ' ';
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i, i + 3);
    if (rest.startsWith('//')) {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      blank(i, stop);
      i = stop;
    } else if (rest.startsWith('/*')) {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (language === 'rust' && /^r#*"/.test(text.slice(i, i + 10)) && !/\w/.test(text[i - 1] ?? '')) {
      const hashes = /^r(#*)"/.exec(text.slice(i))[1];
      const end = text.indexOf(`"${hashes}`, i + hashes.length + 2);
      const stop = end === -1 ? text.length : end + hashes.length + 1;
      blank(i, stop);
      i = stop;
    } else if (language === 'cpp' && /^R"[^(\s]*\(/.test(text.slice(i, i + 20)) && !/\w/.test(text[i - 1] ?? '')) {
      const delimiter = /^R"([^(\s]*)\(/.exec(text.slice(i))[1];
      const end = text.indexOf(`)${delimiter}"`, i);
      const stop = end === -1 ? text.length : end + delimiter.length + 2;
      blank(i, stop);
      i = stop;
    } else if (text[i] === '"') {
      const stop = closingQuote(text, i, '"');
      blank(i, stop);
      i = stop;
    } else if (text[i] === "'") {
      const literal = /^'(\\.[^']*|[^'\\\n])'/.exec(text.slice(i, i + 16));
      if (literal !== null) {
        blank(i, i + literal[0].length);
        i += literal[0].length;
      } else {
        i += 1;
      }
    } else {
      i += 1;
    }
  }
  return out.join('');
}

function closingQuote(text, start, quote) {
  for (let i = start + 1; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === quote || text[i] === '\n') return i + 1;
  }
  return text.length;
}

const CONTROL = /^(if|else|for|while|switch|catch|do|try|return|case)\b/;
const CPP_FUNCTION_HEADER = /\)\s*(const\s*)?(noexcept\s*(\([^)]*\)\s*)?)?(override\s*|final\s*)*(->\s*[\w:<>,\s*&]+)?$/;

/** The outermost functions of a Rust or C++ source, by their braces. */
function braceFunctions(text, language) {
  const clean = blankLiterals(text, language);
  const functions = [];
  const stack = [];
  let headerStart = 0;
  let line = 1;
  for (let i = 0; i < clean.length; i += 1) {
    const c = clean[i];
    if (c === '\n') line += 1;
    else if (c === ';') headerStart = i + 1;
    else if (c === '{') {
      const insideFunction = stack.some((block) => block.name !== null);
      const header = clean.slice(headerStart, i).replace(/\s+/g, ' ').trim();
      const name = insideFunction ? null : functionHeaderName(header, language);
      const headerLine = name === null ? line : line - (clean.slice(headerStart, i).trimStart().split('\n').length - 1);
      stack.push({ name, line: headerLine });
      headerStart = i + 1;
    } else if (c === '}') {
      const block = stack.pop();
      if (block?.name) functions.push({ name: block.name, line: block.line, lines: line - block.line + 1 });
      headerStart = i + 1;
    }
  }
  return functions;
}

function functionHeaderName(header, language) {
  if (language === 'rust') {
    const match = /\bfn\s+(\w+)/.exec(header);
    return match ? match[1] : null;
  }
  const signature = header.replace(/^(public|private|protected)\s*:\s*/, '');
  if (CONTROL.test(signature) || !CPP_FUNCTION_HEADER.test(signature) || /\]\s*(\([^)]*\))?\s*(mutable\s*)?$/.test(signature)) return null;
  if (signature.includes('=') && !/\boperator\b/.test(signature)) return null;
  const beforeParams = signature.slice(0, signature.indexOf('('));
  const match = /([~\w:]+|operator\s*\S+)\s*$/.exec(beforeParams);
  return match ? match[1] : null;
}

/** Every function of the files, each with its file. */
function functionsOf(files) {
  return files.flatMap(({ file, language }) => {
    const text = readFileSync(file, 'utf8');
    const found = language === 'ts' ? typescriptFunctions(text, file) : braceFunctions(text, language);
    return found.map((fn) => ({ file, ...fn }));
  });
}

/** The `top` largest files and functions below `folder`. */
function largestIn(folder, top = DEFAULT_TOP) {
  const files = sourceFiles(folder);
  const byLines = files.map(({ file }) => ({ file, lines: lineCount(readFileSync(file, 'utf8')) })).sort((a, b) => b.lines - a.lines);
  const functions = functionsOf(files).sort((a, b) => b.lines - a.lines);
  return { folder, files: byLines.slice(0, top), functions: functions.slice(0, top) };
}

function parseArgs(argv) {
  const options = { json: false, top: DEFAULT_TOP, folders: [] };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--json') options.json = true;
    else if (argv[i] === '--top') options.top = Number(argv[++i]);
    else options.folders.push(argv[i]);
  }
  if (!Number.isInteger(options.top) || options.top < 1) throw new Error(`--top ${options.top}: give a whole number >= 1`);
  if (options.folders.length === 0) options.folders = DEFAULT_FOLDERS;
  return options;
}

function main(argv) {
  let options;
  try {
    options = parseArgs(argv);
  } catch (error) {
    console.error(error.message);
    process.exit(2);
  }
  const reports = options.folders.map((folder) => largestIn(folder, options.top));
  if (options.json) {
    console.log(JSON.stringify(reports, null, 2));
    return;
  }
  for (const report of reports) {
    console.log(`${report.folder}/`);
    for (const { file, lines } of report.files) console.log(`  file      ${String(lines).padStart(5)}  ${file}`);
    for (const { file, line, lines, name } of report.functions) console.log(`  function  ${String(lines).padStart(5)}  ${name} (${file}:${line})`);
  }
}

main(process.argv.slice(2));
