/**
 * The lineage tree of attempts as inline SVG: one node per archive record,
 * an edge from each parent to its child, nodes coloured by status, and the
 * path from each live (applied) attempt back to the reference kernel drawn
 * thick. A record whose parent is not among the records drawn is a root.
 */
import type { AttemptRecord, AttemptStatus } from '../archive/types.js';
import { escapeHtml } from './escape.js';
import { SKIPPED_BY_PREDICTOR } from '../engine/attempt-runner.js';

export const STATUS_COLORS: Record<AttemptStatus, string> = {
  pending: '#9e9e9e',
  rejected: '#d9534f',
  failed: '#f0ad4e',
  passed: '#5b9bd5',
  applied: '#2e9e44',
  'rolled-back': '#8e44ad',
  superseded: '#1f6b30',
  interrupted: '#c8c8c8',
};

/** A predictor skip's colour: it never reached the gauntlet, so it is neither rejected nor failed. */
export const SKIPPED_COLOR = '#cfcfcf';

/** Wide enough for a four-digit id under each node. */
const COLUMN_PX = 34;
const ROW_PX = 46;
const MARGIN_PX = 20;
const RADIUS_PX = 6;

interface Placed {
  record: AttemptRecord;
  x: number;
  y: number;
}

function childrenByParent(records: readonly AttemptRecord[]): { roots: AttemptRecord[]; children: Map<number, AttemptRecord[]> } {
  const ids = new Set(records.map((record) => record.id));
  const children = new Map<number, AttemptRecord[]>();
  const roots: AttemptRecord[] = [];
  for (const record of [...records].sort((a, b) => a.id - b.id)) {
    if (record.parentId === null || !ids.has(record.parentId)) {
      roots.push(record);
      continue;
    }
    const siblings = children.get(record.parentId) ?? [];
    siblings.push(record);
    children.set(record.parentId, siblings);
  }
  return { roots, children };
}

/**
 * Leaves take consecutive columns in depth-first order and a parent sits over
 * the middle of its children. Iterative, so a lineage thousands deep cannot
 * overflow the stack.
 */
export function layoutLineage(records: readonly AttemptRecord[]): Map<number, Placed> {
  const { roots, children } = childrenByParent(records);
  const placed = new Map<number, Placed>();
  let nextColumn = 0;
  const stack: { record: AttemptRecord; depth: number; expanded: boolean }[] = roots.map((record) => ({ record, depth: 0, expanded: false })).reverse();
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const kids = children.get(frame.record.id) ?? [];
    if (kids.length === 0) {
      placed.set(frame.record.id, { record: frame.record, x: nextColumn++, y: frame.depth });
    } else if (!frame.expanded) {
      stack.push({ ...frame, expanded: true });
      for (const kid of [...kids].reverse()) stack.push({ record: kid, depth: frame.depth + 1, expanded: false });
    } else {
      const xs = kids.map((kid) => placed.get(kid.id)!.x);
      placed.set(frame.record.id, { record: frame.record, x: (xs[0]! + xs[xs.length - 1]!) / 2, y: frame.depth });
    }
  }
  return placed;
}

/** Ids on the paths from every applied record up to its root. */
export function appliedPaths(records: readonly AttemptRecord[]): Set<number> {
  const byId = new Map(records.map((record) => [record.id, record]));
  const onPath = new Set<number>();
  for (const record of records) {
    if (record.status !== 'applied') continue;
    for (let at: AttemptRecord | undefined = record; at && !onPath.has(at.id); at = at.parentId === null ? undefined : byId.get(at.parentId)) {
      onPath.add(at.id);
    }
  }
  return onPath;
}

function nodeTitle(record: AttemptRecord): string {
  const parts = [`#${record.id} ${record.status}`, `${record.generator} ${record.operator}`, `slot ${record.slot}`];
  if (record.speedup !== null) parts.push(`speedup ${record.speedup.toFixed(2)}x`);
  if (record.failedGate !== null) parts.push(`failed ${record.failedGate}`);
  if (record.reason !== '') parts.push(record.reason);
  return parts.join(' | ');
}

function legend(): string {
  const items = (Object.entries(STATUS_COLORS) as [AttemptStatus, string][]).map(
    ([status, color]) => `<span class="swatch" style="background:${color}"></span>${escapeHtml(status)}`,
  );
  return (
    `<p class="legend">${items.join(' ')} <span class="swatch" style="background:${SKIPPED_COLOR}"></span>skipped by the predictor ` +
    '<span class="swatch path"></span>applied path. Click a node for its row.</p>'
  );
}

export function lineageTree(records: readonly AttemptRecord[]): string {
  if (records.length === 0) return '<p class="empty">The archive holds no attempts.</p>';
  const placed = layoutLineage(records);
  const onPath = appliedPaths(records);
  const toX = (column: number) => MARGIN_PX + column * COLUMN_PX;
  const toY = (depth: number) => MARGIN_PX + depth * ROW_PX;
  let columns = 0;
  let depth = 0;
  for (const node of placed.values()) {
    columns = Math.max(columns, node.x);
    depth = Math.max(depth, node.y);
  }
  const edges: string[] = [];
  const nodes: string[] = [];
  for (const { record, x, y } of placed.values()) {
    const parent = record.parentId === null ? undefined : placed.get(record.parentId);
    if (parent) {
      const highlighted = onPath.has(record.id) && onPath.has(parent.record.id);
      edges.push(`<line x1="${toX(parent.x)}" y1="${toY(parent.y)}" x2="${toX(x)}" y2="${toY(y)}" class="${highlighted ? 'edge path' : 'edge'}"/>`);
    }
    const everLive = record.status === 'applied' || record.status === 'superseded' || record.status === 'rolled-back';
    const skipped = record.status === 'rejected' && record.reason.startsWith(SKIPPED_BY_PREDICTOR);
    // A link to the attempt's row: the report has no script, and a fragment needs none.
    nodes.push(
      `<a href="#attempt-${record.id}"><circle cx="${toX(x)}" cy="${toY(y)}" r="${RADIUS_PX}" fill="${skipped ? SKIPPED_COLOR : STATUS_COLORS[record.status]}" ` +
        `class="${everLive ? 'node live' : 'node'}" data-id="${record.id}"><title>${escapeHtml(nodeTitle(record))}</title></circle>` +
        `<text x="${toX(x)}" y="${toY(y) + RADIUS_PX + 11}" text-anchor="middle">${record.id}</text></a>`,
    );
  }
  const width = toX(columns) + MARGIN_PX;
  const height = toY(depth) + MARGIN_PX + RADIUS_PX + 11;
  return [
    legend(),
    '<div class="scroll">',
    `<svg class="lineage" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="lineage of attempts">`,
    ...edges,
    ...nodes,
    '</svg>',
    '</div>',
  ].join('\n');
}
