/**
 * One definition per validation rule, enforced twice: as a CEL
 * `x-kubernetes-validations` entry the API server checks on apply, and as a zod
 * refinement the operator checks again before acting. Keeping both halves in
 * one object is what stops the two validators drifting apart.
 */
import { z } from 'zod';

/** A cross-field rule: CEL for the API server, a predicate for the operator. */
export interface Rule<T> {
  /** The CEL expression; `self` is the value of the schema the rule sits on. */
  cel: string;
  /** Shown to the user by the API server and in the operator's InvalidSpec condition. */
  message: string;
  /** The same rule in TypeScript. */
  check: (value: T) => boolean;
  /** JSONPath-like path of the field the message is about, relative to the rule's schema. */
  fieldPath?: string;
  /** Set when the rule compares with `oldSelf` (a transition rule): the operator cannot check those. */
  transition?: boolean;
  /** CEL cost hint: the API server refuses rules whose estimated cost is too high. */
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** The metadata key zod copies into the generated JSON schema. */
export const CEL_KEY = 'x-kubernetes-validations';

/**
 * Attaches rules to a schema: each becomes a CEL validation in the CRD and a
 * zod refinement (transition rules only in the CRD).
 */
export function withRules<S extends z.ZodType>(schema: S, rules: Rule<z.output<S>>[]): S {
  let refined = schema;
  for (const rule of rules) {
    if (rule.transition) continue;
    refined = refined.superRefine((value, ctx) => {
      if (!rule.check(value as z.output<S>)) {
        const path = rule.fieldPath ? rule.fieldPath.replace(/^\./, '').split('.') : [];
        ctx.addIssue({ code: 'custom', message: rule.message, path });
      }
    }) as unknown as S;
  }
  const validations = rules.map((r) => ({
    rule: r.cel,
    message: r.message,
    ...(r.fieldPath ? { fieldPath: r.fieldPath } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
  }));
  return refined.meta({ [CEL_KEY]: validations }) as S;
}

/** A transition rule that makes a field immutable once set. */
export function immutable<T>(field: string): Rule<T> {
  return {
    cel: 'self == oldSelf',
    message: `${field} is immutable`,
    check: () => true,
    transition: true,
  };
}
