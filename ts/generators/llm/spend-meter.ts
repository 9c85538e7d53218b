/**
 * What the LLM has cost so far, from the token counts each reply reports and
 * the configured prices. The limit is checked before every request, so the
 * spend can exceed it by at most one request's cost (the prompt plus
 * maxTokens of completion), never by a second request.
 */

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** The server reported no usage and the counts were estimated from the text. */
  estimated: boolean;
}

/** A rough tokens-per-character ratio of English text and code, used only when a server reports no usage. */
export const CHARACTERS_PER_TOKEN = 4;

export class SpendMeter {
  spentUsd = 0;
  promptTokens = 0;
  completionTokens = 0;
  estimatedReplies = 0;

  constructor(
    readonly limitUsd: number,
    private readonly inputUsdPerMillionTokens: number,
    private readonly outputUsdPerMillionTokens: number,
  ) {}

  get exhausted(): boolean {
    return this.spentUsd >= this.limitUsd;
  }

  /** Adds one reply's usage; returns what it cost in USD. */
  charge(usage: TokenUsage): number {
    const costUsd = (usage.promptTokens * this.inputUsdPerMillionTokens + usage.completionTokens * this.outputUsdPerMillionTokens) / 1e6;
    this.spentUsd += costUsd;
    this.promptTokens += usage.promptTokens;
    this.completionTokens += usage.completionTokens;
    if (usage.estimated) this.estimatedReplies += 1;
    return costUsd;
  }
}

/** The reply's usage, or an estimate from the lengths of the prompt and the reply when the server gave none. */
export function usageOf(
  reported: { prompt_tokens?: number; completion_tokens?: number } | null | undefined,
  promptCharacters: number,
  replyCharacters: number,
): TokenUsage {
  const prompt = reported?.prompt_tokens;
  const completion = reported?.completion_tokens;
  if (Number.isFinite(prompt) && Number.isFinite(completion)) {
    return { promptTokens: prompt!, completionTokens: completion!, estimated: false };
  }
  return {
    promptTokens: Math.ceil(promptCharacters / CHARACTERS_PER_TOKEN),
    completionTokens: Math.ceil(replyCharacters / CHARACTERS_PER_TOKEN),
    estimated: true,
  };
}
