// Finds an npm package's command the way Node finds the package itself: from
// the repository root upwards. In a clone the tools sit in ./node_modules; in
// a project that installed us, npm hoists them next to us, where a fixed
// ./node_modules/.bin path would miss them.
import { createRequire } from 'node:module';
import path from 'node:path';

/** Absolute path of the script behind `command` of `packageName`, or undefined when the package is not installed. */
export function packageBin(root, packageName, command) {
  const require = createRequire(path.join(root, 'package.json'));
  let manifestFile;
  try {
    manifestFile = require.resolve(`${packageName}/package.json`);
  } catch {
    return undefined;
  }
  const { bin } = require(manifestFile);
  const relative = typeof bin === 'string' ? bin : bin?.[command];
  return relative === undefined ? undefined : path.join(path.dirname(manifestFile), relative);
}
