/** A generator that proposes one fixed source every time, for engine tests. */
import type { CandidateProposal, GenerationContext, Generator } from '../../dist/ts/generators/types.js';

export class FixtureGenerator implements Generator {
  readonly name = 'fixture';
  /** How many times propose() was called. */
  proposals = 0;
  constructor(private readonly source: string) {}
  async propose(context: GenerationContext): Promise<CandidateProposal> {
    context.signal?.throwIfAborted();
    this.proposals += 1;
    return { generator: this.name, operator: 'fixture', source: this.source, genome: null, prompt: null, costUsd: 0 };
  }
}
