import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

interface Report {
  folder: string;
  files: { file: string; lines: number }[];
  functions: { file: string; name: string; line: number; lines: number }[];
}

function largest(folder: string, top: number): Report {
  const result = spawnSync(process.execPath, ['scripts/largest-source.mjs', '--json', '--top', String(top), folder], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return (JSON.parse(result.stdout) as Report[])[0]!;
}

const TYPESCRIPT = `export class Tally {
  add(value: number): number {
    return value + 1;
  }
}

export function long(values: number[]): number {
  let total = 0;
  for (const value of values) {
    total += value;
  }
  const twice = (x: number) => x * 2;
  return twice(total);
}
`;

// Braces in strings, a character literal and a comment, a lifetime that is no character literal, a raw string: none may count.
const RUST = `impl Stack {
    fn push<'a>(&mut self, name: &'a str) -> usize {
        let open = "{ {";
        let close = '}';
        // } a comment's brace
        let raw = r#"}"#;
        if name.is_empty() {
            return 0;
        }
        open.len() + raw.len() + close.len_utf8()
    }
}

fn short() {}
`;

const CPP = `#include <string>

namespace demo {

struct Point {
  int x;
};

int area(const Point& a, const Point& b) {
  const char* brace = "}";
  const char* raw = R"x( } )x";
  if (a.x > b.x) {
    return a.x - b.x;
  }
  return b.x - a.x;
}

void Point_reset(Point& p) noexcept { p.x = 0; }

}  // namespace demo
`;

describe('scripts/largest-source.mjs', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-largest-'));
  mkdirSync(path.join(dir, 'src'));
  mkdirSync(path.join(dir, 'generated'));
  writeFileSync(path.join(dir, 'src', 'tally.ts'), TYPESCRIPT);
  writeFileSync(path.join(dir, 'src', 'stack.rs'), RUST);
  writeFileSync(path.join(dir, 'src', 'area.cpp'), CPP);
  // Generated code and declarations are no one's to split: left out however large.
  writeFileSync(path.join(dir, 'generated', 'big.ts'), 'export const x = 1;\n'.repeat(100));
  writeFileSync(path.join(dir, 'src', 'types.d.ts'), 'export declare const y: number;\n'.repeat(100));

  it('names the largest files and functions of each language, with their lines', () => {
    const report = largest(dir, 10);
    expect(report.files).toEqual([
      { file: path.join(dir, 'src', 'area.cpp'), lines: 20 },
      { file: path.join(dir, 'src', 'stack.rs'), lines: 14 },
      { file: path.join(dir, 'src', 'tally.ts'), lines: 14 },
    ]);
    const functions = report.functions.map(({ file, name, line, lines }) => `${path.basename(file)} ${name}:${line} ${lines}`);
    expect(functions).toEqual([
      'stack.rs push:2 10',
      'area.cpp area:9 8',
      'tally.ts long:7 8',
      'tally.ts add:2 3',
      'area.cpp Point_reset:18 1',
      'stack.rs short:14 1',
      'tally.ts twice:12 1',
    ]);
  });

  it('keeps the top N', () => {
    expect(largest(dir, 1).functions.map((fn) => fn.name)).toEqual(['push']);
  });
});
