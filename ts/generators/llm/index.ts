/** The LLM generator: candidates from any OpenAI-compatible chat endpoint. */
export { LlmGenerator, type HintSource, type LlmGeneratorStats } from './llm-generator.js';
export { KEYLESS_PLACEHOLDER, type LlmGeneratorOptions, type ResolvedLlmOptions, resolveLlmOptions } from './options.js';
export { buildPrompt, kernelAbiText, promptText, type ChatPrompt, type PromptHint } from './prompt.js';
export { extractCandidate } from './reply.js';
