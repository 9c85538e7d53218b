// Checks that every C++ file of cpp/ is formatted as .clang-format says (npm run lint);
// `node scripts/check-cpp-format.mjs --fix` formats them in place.
import { execFileSync, spawnSync } from 'node:child_process';
import process from 'node:process';

const files = execFileSync('git', ['ls-files', 'cpp'], { encoding: 'utf8' })
  .split('\n')
  .filter((file) => /\.(cpp|h|hpp)$/.test(file));
const fix = process.argv.includes('--fix');
const result = spawnSync('clang-format', fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files], { stdio: 'inherit' });
if (result.error) {
  console.error(`check-cpp-format: clang-format could not run (${result.error.message}); install Debian's clang-format`);
  process.exit(1);
}
process.exit(result.status ?? 1);
