/**
 * The replies both control servers build from a lattice: `ouroboros simulate
 * --serve` (serve.ts) and `ouroboros run --serve` (engine-control.ts), which
 * adds the engine's figures and ledger entries to the same shapes.
 */
import type { Lattice, SwapResult } from '../lattice/lattice.js';
import type { StatusReply, SwapReply } from './control-protocol.js';

/** The lattice's status: `swaps` so far, and `uptimeMs` since the server started. */
export function statusReply(lattice: Lattice, swaps: number, uptimeMs: number): StatusReply {
  return {
    ok: true,
    command: 'status',
    stepCount: lattice.stepCount,
    running: lattice.running,
    extents: [...lattice.extents],
    precision: lattice.precision,
    slots: lattice.slots(),
    profile: lattice.profile(),
    swaps,
    uptimeMs,
  };
}

/** What a swap or rollback did, as the client sees it. */
export function swapReply(command: 'swap' | 'rollback', result: SwapResult, lattice: Lattice): SwapReply {
  return {
    ok: true,
    command,
    slot: result.slot,
    from: { id: result.fromId, name: result.fromName },
    to: { id: result.toId, name: result.toName },
    pauseUs: result.gapNs / 1e3,
    appliedAtStep: result.appliedAtStep,
    stepCount: lattice.stepCount,
  };
}
