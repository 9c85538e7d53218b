/**
 * The engine's generator with the fleet's inbox in front of it: while
 * another engine's improvement waits for the slot, the next attempt judges
 * that instead of breeding a child. The proposal carries no genome, so
 * nothing vouches for it by content (trust.ts): it goes through the whole
 * gauntlet (the analysers included) and, if it wins, runs live confined in
 * a kernel host, as any untrusted kernel does. Its attempt is archived
 * under the generator "fleet" with the sender in the operator.
 */
import type { CandidateProposal, GenerationContext, Generator } from '../generators/types.js';
import type { ImprovementExchange } from './improvement-exchange.js';

/** The generator name of attempts that judged a shared improvement. */
export const SHARED_GENERATOR = 'fleet';

export class SharingGenerator implements Generator {
  constructor(
    private readonly inner: Generator,
    private readonly exchange: ImprovementExchange,
  ) {}

  get name(): string {
    return this.inner.name;
  }

  /** One proposal while a shared improvement waits, so the engine judges exactly that one. */
  get candidatesPerAttempt(): number | undefined {
    return this.exchange.hasPending() ? 1 : this.inner.candidatesPerAttempt;
  }

  async propose(context: GenerationContext): Promise<CandidateProposal> {
    const shared = this.exchange.take(context.slot);
    if (shared === undefined) return this.inner.propose(context);
    return {
      generator: SHARED_GENERATOR,
      operator: `shared:${shared.engineId}#${shared.attemptId}`,
      source: shared.source,
      genome: null,
      prompt: null,
      costUsd: 0,
    };
  }
}
