/**
 * The child side of the module probe: `node probe-child.js <module.so> [shape-json]`.
 *
 * Loads the module with ffi-rs (dlopen runs its constructors), calls its
 * entry function and checks the table it returns; given a SelfTestShape, it
 * then runs the self-test (the module's kernels on a tiny lattice against the
 * Rust oracle), so that a kernel that crashes when called also dies here.
 * Prints one JSON line, a ProbeReport. Nothing here guards against the
 * module: if it crashes or hangs, this process dies or is killed, and the
 * parent reports that.
 */
import { DataType, createExternalBuffer, isNullPointer, load, open } from 'ffi-rs';
import process from 'node:process';
import { type SelfTestShape, selfTestModule } from './self-test.js';

/** What the child found; `defect` is null for an acceptable table. */
export interface ProbeReport {
  defect: string | null;
  abiVersion?: number;
  tableBytes?: number;
}

/** Must match cpp/include/ouroboros/kernel_abi.h. */
export const KERNEL_ABI_VERSION = 1;
const ENTRY_SYMBOL = 'ouro_kernel_entry';
/** abi_version u32, table_bytes u32, then name, wave_step and readout pointers. */
const TABLE_BYTES = 8 + 3 * 8;
const POINTER_FIELDS = [
  ['name', 8],
  ['wave_step', 16],
  ['readout', 24],
] as const;

function probe(file: string): ProbeReport {
  open({ library: 'candidate', path: file });
  let table;
  try {
    table = load({ library: 'candidate', funcName: ENTRY_SYMBOL, retType: DataType.External, paramsType: [], paramsValue: [] });
  } catch (error) {
    return { defect: `no ${ENTRY_SYMBOL} symbol (${error instanceof Error ? error.message : String(error)})` };
  }
  if (isNullPointer(table)) return { defect: `${ENTRY_SYMBOL} returned a null table` };
  const header = createExternalBuffer(table, 8);
  const abiVersion = header.readUInt32LE(0);
  const tableBytes = header.readUInt32LE(4);
  if (abiVersion !== KERNEL_ABI_VERSION) {
    return {
      defect: `kernel ABI version ${abiVersion}, but this core speaks version ${KERNEL_ABI_VERSION}`,
      abiVersion,
      tableBytes,
    };
  }
  if (tableBytes < TABLE_BYTES) {
    return { defect: `kernel table is ${tableBytes} bytes, expected at least ${TABLE_BYTES}`, abiVersion, tableBytes };
  }
  const fields = createExternalBuffer(table, TABLE_BYTES);
  for (const [field, offset] of POINTER_FIELDS) {
    if (fields.readBigUInt64LE(offset) === 0n) return { defect: `kernel table has a null ${field}`, abiVersion, tableBytes };
  }
  return { defect: null, abiVersion, tableBytes };
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: probe-child <module.so>\n');
  process.exit(2);
}
let report: ProbeReport;
try {
  report = probe(file);
  if (report.defect === null && process.argv[3]) {
    report.defect = await selfTestModule(file, JSON.parse(process.argv[3]) as SelfTestShape);
  }
} catch (error) {
  report = { defect: error instanceof Error ? error.message : String(error) };
}
process.stdout.write(`${JSON.stringify(report)}\n`);
