/**
 * EngineConfig is derived from CONFIG_SCHEMA's rows (ts/engine/config-schema.ts),
 * so there is no second list of keys to fall out of step. These checks are
 * compile-time ones (`npm run lint` type-checks the tests): a row's path and
 * type decide its property's name and type, and what resolveConfig() returns
 * has exactly the schema's keys.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { CONFIG_SCHEMA, type EngineConfig, resolveConfig } from '../dist/ts/engine/config.js';

/** Every dotted leaf path of a resolved configuration. */
function leafPaths(table: object, prefix = ''): string[] {
  return Object.entries(table).flatMap(([name, value]) => {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? leafPaths(value as object, key) : [key];
  });
}

describe('EngineConfig, derived from the schema', () => {
  it('types each key as its row resolves it', () => {
    expectTypeOf<EngineConfig['lattice']['precision']>().toEqualTypeOf<'f64' | 'f32'>();
    expectTypeOf<EngineConfig['generator']['kind']>().toEqualTypeOf<'variant' | 'random' | 'llm'>();
    expectTypeOf<EngineConfig['lattice']['extents']>().toEqualTypeOf<number[]>();
    expectTypeOf<EngineConfig['economy']['enabled']>().toEqualTypeOf<boolean>();
    expectTypeOf<EngineConfig['archive']['path']>().toEqualTypeOf<string>();
    // A duration key `x` is `xMs`, in milliseconds.
    expectTypeOf<EngineConfig['improvementIntervalMs']>().toEqualTypeOf<number>();
    expectTypeOf<EngineConfig>().not.toHaveProperty('improvementInterval');
  });

  it('resolves to exactly one property per schema row', () => {
    const resolved = leafPaths(resolveConfig({})).sort();
    const rows = CONFIG_SCHEMA.map((key) => (key.type.kind === 'duration' ? `${key.path}Ms` : key.path)).sort();
    expect(resolved).toEqual(rows);
  });
});
