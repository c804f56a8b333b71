/** Matching labels against a metav1.LabelSelector (matchLabels AND matchExpressions). */
import type { LabelSelector } from '../api/index.js';

/** True when `labels` satisfy `selector`; an absent or empty selector matches everything. */
export function matchesSelector(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (l[key] !== value) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, expr.key);
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
        if (!has || !values.includes(l[expr.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(l[expr.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
