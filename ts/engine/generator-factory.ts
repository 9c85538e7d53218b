/**
 * The generator a configuration asks for, and which slots it can write
 * kernels for: the variant space covers only the step kernel, so with the
 * offline generators the readout slot stays on the reference kernel.
 */
import type { Slot } from '../gauntlet/types.js';
import { LlmGenerator } from '../generators/llm/index.js';
import type { Generator } from '../generators/types.js';
import { RandomSearchGenerator, VariantGenerator } from '../generators/variant/index.js';
import type { EngineConfig } from './config.js';
import type { StrategyMemory } from './strategy-memory.js';

export interface ConfiguredGenerator {
  generator: Generator;
  slots: readonly Slot[];
}

export function generatorFromConfig(config: EngineConfig, memory: StrategyMemory): ConfiguredGenerator {
  switch (config.generator.kind) {
    case 'variant':
      return { generator: new VariantGenerator({ candidatesPerAttempt: config.generator.candidates }), slots: ['step'] };
    case 'random':
      return { generator: new RandomSearchGenerator(), slots: ['step'] };
    case 'llm': {
      const llm = config.generator.llm;
      const generator = new LlmGenerator(
        {
          baseURL: llm.baseURL,
          model: llm.model,
          ...(llm.apiKey === '' ? {} : { apiKey: llm.apiKey }),
          timeoutMs: llm.timeoutMs,
          maxRetries: llm.maxRetries,
          requestsPerMinute: llm.requestsPerMinute,
          temperature: llm.temperature,
          inputUsdPerMillionTokens: llm.inputUsdPerMillionTokens,
          outputUsdPerMillionTokens: llm.outputUsdPerMillionTokens,
          spendLimitUsd: config.budget.spendLimitUsd,
        },
        (slot, count) => memory.winners(slot, count),
      );
      return { generator, slots: ['step', 'readout'] };
    }
  }
}
