/**
 * @fileoverview Reads the fenced code blocks of the documentation (README.md, docs/*.md) and the
 * `<!-- doc-test: … -->` markers that tell test/docs.test.ts what to do with them.
 *
 * Markers sit on their own line right before a block (blank lines between are allowed):
 *
 *   <!-- doc-test: skip (needs emcc) -->           the block is not run; the reason is required.
 *                                                  A reason starting with "needs " lists commands;
 *                                                  with DOC_TEST_TOOLCHAINS=1 and all of them on
 *                                                  PATH the block runs after all.
 *   <!-- doc-test: output -->                      (before a ```text block) the block is exactly the
 *                                                  combined stdout of the ```sh block before it.
 *   <!-- doc-test: file examples/node/x.mjs -->    (before any block) the block is exactly that file.
 *
 * In a ```sh block each line is a command (a trailing `\` continues it, `#` lines are comments). A
 * trailing comment `# exit N` (or `# exit status N: why`) states the command's documented exit status;
 * otherwise it must exit 0.
 */

import { readFileSync } from 'node:fs';

export interface Command {
  /** The command as shown, continuations joined, without a trailing `# exit N` comment. */
  text: string;
  /** Documented exit status. */
  exit: number;
  /** 1-based line in the markdown file. */
  line: number;
}

export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  body: string;
  marker: { kind: 'skip'; reason: string } | { kind: 'output' } | { kind: 'file'; path: string } | null;
  /** For sh blocks. */
  commands: Command[];
}

const MARKER = /^<!--\s*doc-test:\s*(.*?)\s*-->\s*$/;
const FENCE = /^\s*(`{3,}|~{3,})\s*([\w+-]*)\s*$/;
const EXIT = /\s+#\s*exit(?:\s+status)?\s+(\d+)\b.*$/;

export function parseMarker(text: string): Block['marker'] {
  const skip = /^skip\s*\((.+)\)$/.exec(text);
  if (skip) return { kind: 'skip', reason: skip[1]!.trim() };
  if (text === 'output') return { kind: 'output' };
  const file = /^file\s+(\S+)$/.exec(text);
  if (file) return { kind: 'file', path: file[1]! };
  throw new Error(`unknown doc-test marker '${text}'`);
}

export function splitCommands(body: string, firstLine: number): Command[] {
  const out: Command[] = [];
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i]!;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)}\n${lines[++i]!}`;
    const trimmed = text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = EXIT.exec(text);
    out.push({
      text: m ? text.slice(0, m.index) : text,
      exit: m ? Number(m[1]) : 0,
      line: firstLine + 1 + start,
    });
  }
  return out;
}

/** Every fenced block of `file` (path relative to `root`) with its marker. */
export function readBlocks(root: string, file: string): Block[] {
  const lines = readFileSync(`${root}/${file}`, 'utf8').split('\n');
  const blocks: Block[] = [];
  let pending: { marker: Block['marker']; line: number } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const marker = MARKER.exec(line.trim());
    if (marker) {
      pending = { marker: parseMarker(marker[1]!), line: i + 1 };
      continue;
    }
    const fence = FENCE.exec(line);
    if (!fence) {
      if (line.trim() !== '') pending = null; // a marker only applies to the block right after it
      continue;
    }
    const close = fence[1]!;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() !== close) body.push(lines[j++]!);
    const lang = fence[2] ?? '';
    const text = body.join('\n');
    blocks.push({
      file,
      line: i + 1,
      lang,
      body: text,
      marker: pending?.marker ?? null,
      commands: lang === 'sh' ? splitCommands(text, i + 1) : [],
    });
    pending = null;
    i = j;
  }
  return blocks;
}
