/**
 * Pure conversion of a KindDefinition into a CustomResourceDefinition object.
 * zod's OpenAPI 3.0 output is close to what Kubernetes wants; this file makes
 * it structural (no additionalProperties:false beside properties, the
 * int-or-string shape for quantities, no zod-internal bounds or patterns).
 */
import { z } from 'zod';
import { GROUP, VERSION } from './common.js';
import type { KindDefinition } from './kinds.js';

type JsonSchema = { [key: string]: unknown };

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/** Rewrites one zod JSON schema node (recursively) into a structural OpenAPI v3 schema. */
export function toStructural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toStructural);
  if (node === null || typeof node !== 'object') return node;
  const input = node as JsonSchema;
  if (input['x-kubernetes-int-or-string'] === true) {
    const out: JsonSchema = { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
    for (const key of ['description', 'default', 'pattern', 'maxLength', 'x-kubernetes-validations']) {
      if (input[key] !== undefined) out[key] = input[key];
    }
    return out;
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(input)) {
    if (key === '$schema' || key === 'id') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if ((key === 'minimum' && value === -SAFE_INT) || (key === 'maximum' && value === SAFE_INT)) continue;
    if (key === 'pattern' && input['format'] === 'date-time') continue;
    out[key] = toStructural(value);
  }
  if (out['type'] === 'integer' && out['format'] === undefined) out['format'] = 'int64';
  if (out['type'] === 'integer' && out['format'] === 'safeint') out['format'] = 'int64';
  return out;
}

/** OpenAPI v3 schema of a zod schema, as the API server's structural schema. */
export function openAPISchema(schema: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' })) as JsonSchema;
}

/** The CustomResourceDefinition for one kind. */
export function buildCrd(def: KindDefinition): JsonSchema {
  const spec = openAPISchema(def.spec);
  const status = openAPISchema(def.status);
  const root: JsonSchema = {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec,
      status,
    },
    'x-kubernetes-validations': def.rootRules.map((r) => ({ rule: r.cel, message: r.message })),
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'drover', 'app.kubernetes.io/part-of': 'drover' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: ['drover', 'all'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.printerColumns,
          schema: { openAPIV3Schema: root },
        },
      ],
    },
  };
}
