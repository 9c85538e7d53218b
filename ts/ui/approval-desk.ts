/**
 * Approval mode: the engine's Approver. While the mode is on, a candidate
 * that passed every gate waits here until a person approves or rejects it
 * on the dashboard; while it is off, candidates go on at once, unattended
 * (the engine records no decision for them). Turning the mode off lets the
 * waiting ones go on the same way. The engine's stop answers every waiting
 * request with null.
 */
import { EventEmitter } from 'node:events';
import type { ApprovalAnswer, ApprovalRequest, Approver } from '../engine/attempt-runner.js';

export interface ApprovalDeskEvents {
  waiting: [ApprovalRequest];
  decided: [{ attemptId: number; decision: 'approve' | 'reject' | 'unattended'; decidedBy: string | null }];
  mode: [boolean];
}

export class ApprovalDesk extends EventEmitter<ApprovalDeskEvents> {
  private readonly pending = new Map<number, { request: ApprovalRequest; answer: (answer: ApprovalAnswer) => void }>();

  constructor(private modeOn: boolean) {
    super();
  }

  get enabled(): boolean {
    return this.modeOn;
  }

  /** The candidates waiting for a decision, oldest first. */
  waiting(): ApprovalRequest[] {
    return [...this.pending.values()].map((entry) => entry.request);
  }

  /** For EngineDeps.approve. */
  readonly approver: Approver = (request, signal) => {
    if (!this.modeOn) return Promise.resolve('unattended');
    return new Promise<ApprovalAnswer>((resolve) => {
      const onAbort = () => {
        this.pending.delete(request.attemptId);
        resolve(null);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(request.attemptId, {
        request,
        answer: (answer) => {
          signal.removeEventListener('abort', onAbort);
          this.pending.delete(request.attemptId);
          resolve(answer);
        },
      });
      this.emit('waiting', request);
    });
  };

  /** A person's decision on a waiting candidate; false when none with that id waits. */
  decide(attemptId: number, decision: 'approve' | 'reject', decidedBy: string): boolean {
    const entry = this.pending.get(attemptId);
    if (entry === undefined) return false;
    entry.answer({ decision, decidedBy });
    this.emit('decided', { attemptId, decision, decidedBy });
    return true;
  }

  setEnabled(on: boolean): void {
    if (on === this.modeOn) return;
    this.modeOn = on;
    if (!on) {
      for (const [attemptId, entry] of [...this.pending]) {
        entry.answer('unattended');
        this.emit('decided', { attemptId, decision: 'unattended', decidedBy: null });
      }
    }
    this.emit('mode', on);
  }
}
