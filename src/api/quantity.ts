/**
 * Kubernetes resource quantities ("512Mi", "10Gi", "1.5G", "1024"), parsed the
 * way the API server does for the suffixes Drover accepts. Only non-negative
 * values: a negative size or memory is never meaningful here.
 */

/** The pattern the API server enforces on Drover's quantity fields (strings). */
export const QUANTITY_PATTERN = '^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$';

const quantityRegex = new RegExp(QUANTITY_PATTERN);

const MULTIPLIERS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** True when `value` is a quantity Drover accepts (an integer or a quantity string). */
export function isQuantity(value: unknown): value is number | string {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0;
  return typeof value === 'string' && quantityRegex.test(value);
}

/**
 * Parses a quantity into a plain number (bytes for memory and sizes), rounding
 * up fractional results as Kubernetes does for integer conversions.
 * @throws Error when the value is not a quantity.
 */
export function parseQuantity(value: number | string): number {
  if (typeof value === 'number') {
    if (!isQuantity(value)) throw new Error(`invalid quantity ${value}`);
    return value;
  }
  const match = quantityRegex.exec(value);
  if (!match) throw new Error(`invalid quantity "${value}"`);
  const suffix = match[3] ?? '';
  const number = Number(value.slice(0, value.length - suffix.length));
  const multiplier = MULTIPLIERS[suffix];
  if (multiplier === undefined) throw new Error(`invalid quantity suffix "${suffix}"`);
  return Math.ceil(number * multiplier);
}

/** Formats a byte count as the largest exact binary quantity ("1Gi", "1536Mi", "1000"). */
export function formatBytes(bytes: number): string {
  const units = ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const;
  for (const unit of units) {
    const m = MULTIPLIERS[unit]!;
    if (bytes >= m && bytes % m === 0) return `${bytes / m}${unit}`;
  }
  return String(Math.round(bytes));
}
