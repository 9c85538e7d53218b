/**
 * The control requests `ouroboros run --serve` answers. The engine decides
 * what goes live, so a client may ask for the status, a rollback (which the
 * engine records in the ledger like its own) or a stop, but not a swap.
 */
import type { Archive } from '../archive/archive.js';
import type { Engine } from '../engine/engine.js';
import type { ControlReply, ControlRequest, StatusReply } from './control-protocol.js';
import { archiveName } from './archive-commands.js';
import { statusReply, swapReply } from './control-replies.js';

function status(engine: Engine, archive: Archive, startedMs: number): StatusReply {
  const summary = engine.summary();
  return {
    ...statusReply(engine.lattice, summary.applied + summary.rolledBack, performance.now() - startedMs),
    engine: { paused: engine.paused, archive: archiveName(archive.file), summary },
  };
}

/**
 * A request handler for listenForControl(); `requestStop` ends the run the
 * way SIGINT does. `via` names where requests come from, for the ledger.
 */
export function engineControl(
  engine: Engine,
  archive: Archive,
  requestStop: () => void,
  via = '`ouroboros rollback`',
): (request: ControlRequest) => Promise<ControlReply> {
  const startedMs = performance.now();
  return async (request) => {
    switch (request.command) {
      case 'status':
        return status(engine, archive, startedMs);
      case 'stop': {
        requestStop();
        const summary = await engine.stop();
        return { ok: true, command: 'stop', stepCount: engine.lattice.stepCount, swaps: summary.applied + summary.rolledBack };
      }
      case 'rollback': {
        const { outcome, entry } = await engine.rollback(request.slot, `requested with ${via}`);
        return { ...swapReply('rollback', outcome, engine.lattice), ledgerSequence: entry.sequence };
      }
      case 'swap':
        throw new Error(
          'swap is not taken by `ouroboros run`: the engine decides what goes live, through the gauntlet; ' +
            'use `ouroboros rollback SLOT` to undo its last change, or `ouroboros simulate --serve` to swap by hand',
        );
    }
  };
}
