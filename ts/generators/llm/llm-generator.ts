/**
 * The LLM generator: asks any OpenAI-compatible endpoint (llama.cpp, vLLM,
 * Ollama, OpenAI) for a faster kernel. Each proposal is one chat completion
 * under a rate limit and a spend limit, retried with exponential backoff on
 * transient failures; the reply must hold exactly one C++ block defining the
 * kernel entry point. The SDK's own retries are off so that every attempt
 * goes through the rate limiter and is counted in `stats()`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, { APIUserAbortError } from 'openai';
import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { Slot } from '../../gauntlet/types.js';
import { type CandidateProposal, type GenerationContext, type Generator, GeneratorError } from '../types.js';
import { type LlmGeneratorOptions, MAX_BACKOFF_MS, type ResolvedLlmOptions, resolveLlmOptions } from './options.js';
import { buildPrompt, type ChatPrompt, MAX_QUOTED_HINTS, type PromptHint, promptText } from './prompt.js';
import { RateLimiter } from './rate-limiter.js';
import { extractCandidate } from './reply.js';
import { classifyRequestFailure } from './request-failure.js';
import { SpendMeter, usageOf } from './spend-meter.js';

/** Where the prompt's "changes that won before" come from, e.g. `(slot, n) => memory.winners(slot, n)`. */
export type HintSource = (slot: Slot, count: number) => readonly PromptHint[];

/** A retry-after longer than this is not honoured in full: the backoff would outlast any useful attempt. */
const MAX_RETRY_AFTER_MS = 60_000;

export interface LlmGeneratorStats {
  /** Requests sent, retries included. */
  requests: number;
  /** Requests that were retries of a failed one. */
  retries: number;
  /** Replies received (well-formed or not). */
  replies: number;
  malformedReplies: number;
  promptTokens: number;
  completionTokens: number;
  spentUsd: number;
  /** Replies whose usage the server did not report, so their cost was estimated from their length. */
  estimatedUsageReplies: number;
  /** Requests that waited for the rate limit, and how long in all. */
  rateLimitWaits: number;
  rateLimitWaitMs: number;
}

export class LlmGenerator implements Generator {
  readonly name = 'llm';
  readonly options: Readonly<ResolvedLlmOptions>;
  private readonly client: OpenAI;
  private readonly limiter: RateLimiter;
  private readonly spend: SpendMeter;
  private requests = 0;
  private retries = 0;
  private replies = 0;
  private malformedReplies = 0;

  constructor(
    options: LlmGeneratorOptions,
    private readonly hints: HintSource = () => [],
  ) {
    this.options = resolveLlmOptions(options);
    this.client = new OpenAI({
      baseURL: this.options.baseURL,
      apiKey: this.options.apiKey,
      timeout: this.options.timeoutMs,
      maxRetries: 0,
    });
    this.limiter = new RateLimiter(this.options.requestsPerMinute, this.options.burstRequests);
    this.spend = new SpendMeter(this.options.spendLimitUsd, this.options.inputUsdPerMillionTokens, this.options.outputUsdPerMillionTokens);
  }

  stats(): LlmGeneratorStats {
    return {
      requests: this.requests,
      retries: this.retries,
      replies: this.replies,
      malformedReplies: this.malformedReplies,
      promptTokens: this.spend.promptTokens,
      completionTokens: this.spend.completionTokens,
      spentUsd: this.spend.spentUsd,
      estimatedUsageReplies: this.spend.estimatedReplies,
      rateLimitWaits: this.limiter.waits,
      rateLimitWaitMs: this.limiter.waitedMs,
    };
  }

  async propose(context: GenerationContext): Promise<CandidateProposal> {
    const prompt = buildPrompt(context, this.hints(context.slot, MAX_QUOTED_HINTS));
    const completion = await this.complete(prompt, context);
    const usage = usageOf(completion.usage, prompt.system.length + prompt.user.length, replyLength(completion));
    const costUsd = this.spend.charge(usage);
    const choice = completion.choices?.[0];
    const rawReply = choice?.message?.content ?? '';
    let source: string;
    try {
      source = extractCandidate(choice?.message?.content, choice?.finish_reason ?? null, this.options.maxTokens);
    } catch (error) {
      this.malformedReplies += 1;
      // The archive keeps what the model said, so a reply that could not be read can be.
      if (error instanceof GeneratorError) throw new GeneratorError(error.kind, error.message, { prompt: promptText(prompt), rawReply });
      throw error;
    }
    return { generator: this.name, operator: 'llm', source, genome: null, prompt: promptText(prompt), rawReply, costUsd };
  }

  private refuseOverSpend(): void {
    if (!this.spend.exhausted) return;
    throw new GeneratorError(
      'spend-limit',
      `spent ${this.spend.spentUsd.toFixed(6)} USD, which reaches spendLimitUsd = ${this.options.spendLimitUsd}: ` + 'no further request is sent',
    );
  }

  /** One chat completion, with up to maxRetries further attempts after transient failures. */
  private async complete(prompt: ChatPrompt, context: GenerationContext): Promise<ChatCompletion> {
    const { maxRetries, timeoutMs } = this.options;
    for (let attempt = 0; ; attempt += 1) {
      this.refuseOverSpend();
      await this.limiter.acquire(context.signal);
      this.refuseOverSpend();
      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = context.signal ? AbortSignal.any([context.signal, deadline]) : deadline;
      this.requests += 1;
      if (attempt > 0) this.retries += 1;
      try {
        const completion = await this.client.chat.completions.create(
          {
            model: this.options.model,
            messages: [
              { role: 'system', content: prompt.system },
              { role: 'user', content: prompt.user },
            ],
            temperature: this.options.temperature,
            max_tokens: this.options.maxTokens,
          },
          { signal, timeout: timeoutMs, maxRetries: 0 },
        );
        this.replies += 1;
        return completion;
      } catch (error) {
        if (context.signal?.aborted) throw error instanceof APIUserAbortError ? (context.signal.reason ?? error) : error;
        const failure = classifyRequestFailure(error, deadline.aborted, timeoutMs);
        if (failure === null) throw error;
        if (!failure.retryable || attempt >= maxRetries) {
          const attempts = `${attempt + 1} attempt${attempt === 0 ? '' : 's'} (maxRetries = ${maxRetries})`;
          throw new GeneratorError(failure.kind, `${this.options.baseURL}: ${failure.description}, after ${attempts}`);
        }
        const backoffMs = this.backoffMs(attempt, failure.retryAfterMs, context.random);
        await sleep(backoffMs, undefined, context.signal ? { signal: context.signal } : undefined);
      }
    }
  }

  /** Exponential, with jitter from the context's seeded random so runs replay; never shorter than the server asked. */
  private backoffMs(attempt: number, retryAfterMs: number, random: () => number): number {
    const exponential = Math.min(MAX_BACKOFF_MS, this.options.retryBackoffMs * 2 ** attempt);
    return Math.max(exponential * (0.5 + 0.5 * random()), Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
  }
}

function replyLength(completion: ChatCompletion): number {
  return completion.choices?.reduce((sum, choice) => sum + (choice.message?.content?.length ?? 0), 0) ?? 0;
}
