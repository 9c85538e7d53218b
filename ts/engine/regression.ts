/**
 * The predictor's regression maths, with no dependency: Cholesky solves,
 * L2-regularised logistic regression by Newton steps, and Bayesian ridge
 * regression with a residual spread shrunk toward a prior (predictor.ts
 * says what the engine does with them).
 */

/** The residual prior: ln speedups of passing kernels spread about 25%, worth two samples. */
const PRIOR_RESIDUAL_SD = 0.25;
const PRIOR_RESIDUAL_SAMPLES = 2;
/** A tiny penalty keeps the intercept finite when every sample is of one class. */
const INTERCEPT_L2 = 1e-2;
const NEWTON_ITERATIONS = 30;
export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Φ, the standard normal CDF (Abramowitz and Stegun 7.1.26, error below 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** The lower Cholesky factor L of a symmetric positive definite A (row-major, n x n): A = L L^T. */
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j <= i; j += 1) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k += 1) sum -= l[i * n + k]! * l[j * n + k]!;
      l[i * n + j] = i === j ? Math.sqrt(Math.max(sum, 1e-12)) : sum / l[j * n + j]!;
    }
  }
  return l;
}

/** y with L y = b: half of a solve, and all that x^T A^-1 x = |y|^2 needs. */
export function forwardSubstitute(l: Float64Array, b: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i += 1) {
    let sum = b[i]!;
    for (let k = 0; k < i; k += 1) sum -= l[i * n + k]! * y[k]!;
    y[i] = sum / l[i * n + i]!;
  }
  return y;
}

/** x with L^T x = y: the other half. */
export function backSubstitute(l: Float64Array, y: ArrayLike<number>, n: number): Float64Array {
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i -= 1) {
    let sum = y[i]!;
    for (let k = i + 1; k < n; k += 1) sum -= l[k * n + i]! * x[k]!;
    x[i] = sum / l[i * n + i]!;
  }
  return x;
}

/** Solves L L^T x = b. */
function solveFactored(l: Float64Array, b: Float64Array, n: number): Float64Array {
  return backSubstitute(l, forwardSubstitute(l, b, n), n);
}

/** A standard normal draw from uniform ones (Box-Muller). */
export function standardNormal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Solves A x = b for a symmetric positive definite A (row-major, n x n). */
function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  return solveFactored(cholesky(a, n), b, n);
}

export function dot(weights: Float64Array, row: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i += 1) sum += weights[i]! * row[i]!;
  return sum;
}

/** Penalised normal equations: X^T W X + P and X^T r, accumulated row by row. */
function weightedSystem(rows: Float64Array[], weights: ArrayLike<number>, residuals: ArrayLike<number>, l2: number) {
  const n = rows[0]!.length;
  const matrix = new Float64Array(n * n);
  const vector = new Float64Array(n);
  rows.forEach((row, index) => {
    const w = weights[index]!;
    for (let i = 0; i < n; i += 1) {
      vector[i] = vector[i]! + row[i]! * residuals[index]!;
      for (let j = 0; j <= i; j += 1) matrix[i * n + j] = matrix[i * n + j]! + w * row[i]! * row[j]!;
    }
  });
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j < i; j += 1) matrix[j * n + i] = matrix[i * n + j]!;
    matrix[i * n + i] = matrix[i * n + i]! + (i === 0 ? INTERCEPT_L2 : l2);
  }
  return { matrix, vector };
}

/** ln(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** The penalised negative log-likelihood the logistic fit minimises. */
function logisticLoss(rows: Float64Array[], labels: number[], beta: Float64Array, l2: number): number {
  let loss = 0;
  rows.forEach((row, i) => {
    const z = dot(beta, row);
    loss += softplus(z) - labels[i]! * z;
  });
  beta.forEach((b, i) => {
    loss += 0.5 * (i === 0 ? INTERCEPT_L2 : l2) * b * b;
  });
  return loss;
}

/** Newton steps with backtracking: a full step can overshoot while the data are (nearly) separable. */
export function fitLogistic(rows: Float64Array[], labels: number[], l2: number): Float64Array {
  const n = rows[0]!.length;
  let beta = new Float64Array(n);
  let loss = logisticLoss(rows, labels, beta, l2);
  for (let iteration = 0; iteration < NEWTON_ITERATIONS; iteration += 1) {
    const p = rows.map((row) => sigmoid(dot(beta, row)));
    const { matrix, vector } = weightedSystem(
      rows,
      p.map((pi) => Math.max(pi * (1 - pi), 1e-9)),
      labels.map((y, i) => y - p[i]!),
      l2,
    );
    // The penalty's own gradient, so the solve gives the Newton step of the penalised likelihood.
    for (let i = 0; i < n; i += 1) vector[i] = vector[i]! - (i === 0 ? INTERCEPT_L2 : l2) * beta[i]!;
    const step = solveSpd(matrix, vector, n);
    let scale = 1;
    let next = beta.map((b, i) => b + step[i]!);
    let nextLoss = logisticLoss(rows, labels, next, l2);
    while (nextLoss > loss && scale > 1e-6) {
      scale /= 2;
      next = beta.map((b, i) => b + scale * step[i]!);
      nextLoss = logisticLoss(rows, labels, next, l2);
    }
    const largest = step.reduce((max, value) => Math.max(max, Math.abs(scale * value)), 0);
    if (nextLoss > loss) break;
    beta = next;
    loss = nextLoss;
    if (largest < 1e-8) break;
  }
  return beta;
}

export interface RidgeFit {
  beta: Float64Array;
  factor: Float64Array;
  residualSd: number;
}

export function fitRidge(rows: Float64Array[], targets: number[], l2: number, dimension: number): RidgeFit {
  if (rows.length === 0) {
    const { matrix } = weightedSystem([new Float64Array(dimension)], [0], [0], l2);
    return { beta: new Float64Array(dimension), factor: cholesky(matrix, dimension), residualSd: PRIOR_RESIDUAL_SD };
  }
  const { matrix, vector } = weightedSystem(
    rows,
    rows.map(() => 1),
    targets,
    l2,
  );
  const factor = cholesky(matrix, dimension);
  const beta = solveFactored(factor, vector, dimension);
  const squares = rows.reduce((sum, row, i) => sum + (targets[i]! - dot(beta, row)) ** 2, 0);
  const variance = (squares + PRIOR_RESIDUAL_SAMPLES * PRIOR_RESIDUAL_SD ** 2) / (rows.length + PRIOR_RESIDUAL_SAMPLES);
  return { beta, factor, residualSd: Math.sqrt(variance) };
}

/** The standard normal density. */
export function normalPdf(x: number): number {
  return Math.exp(-(x * x) / 2) / Math.sqrt(2 * Math.PI);
}
