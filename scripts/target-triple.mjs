// The napi-rs style name of the platform this process runs on, such as
// "linux-x64-gnu": every per-target native file carries it in its name.
import process from 'node:process';

export function targetTriple() {
  const { platform, arch } = process;
  if (platform !== 'linux') return `${platform}-${arch}`;
  const report = process.report?.getReport?.();
  const glibc = report && typeof report === 'object' && report.header?.glibcVersionRuntime;
  return `${platform}-${arch}-${glibc ? 'gnu' : 'musl'}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(targetTriple());
}
