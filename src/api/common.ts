/**
 * Building blocks shared by every Drover kind: quantities, conditions, label
 * selectors, names, and the object envelope. Every schema here is structural
 * once converted (see src/api/crd.ts), so the API server can prune and default.
 */
import { z } from 'zod';
import { QUANTITY_PATTERN, isQuantity, parseQuantity } from './quantity.js';

/** API group and version of every Drover kind. */
export const GROUP = 'drover.io';
/** The one served and stored version. */
export const VERSION = 'v1alpha1';
/** `apiVersion` as written in manifests. */
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A DNS-1123 label: names that become libvirt names, file names or keys. */
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label: lower case letters, digits and "-", at most 63 characters');

/** A DNS-1123 subdomain: names of other Kubernetes objects. */
export const dnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a DNS-1123 subdomain');

/**
 * A Kubernetes quantity: an integer or a string such as "512Mi". Converted to
 * the `x-kubernetes-int-or-string` shape controller-gen uses for quantities.
 */
export const quantity = z
  .union([z.int().nonnegative(), z.string().max(64).regex(new RegExp(QUANTITY_PATTERN), 'must be a quantity such as 512Mi or 10Gi')])
  .meta({ 'x-kubernetes-int-or-string': true, pattern: QUANTITY_PATTERN, maxLength: 64 });

/** A quantity with a lower bound, checked by the API server (CEL) and by zod. */
export function quantityAtLeast(min: string, field: string) {
  const minBytes = parseQuantity(min);
  return quantity
    .refine((v) => !isQuantity(v) || parseQuantity(v) >= minBytes, { message: `${field} must be at least ${min}` })
    .meta({
      'x-kubernetes-int-or-string': true,
      pattern: QUANTITY_PATTERN,
      maxLength: 64,
      'x-kubernetes-validations': [
        {
          rule: `!isQuantity(string(self)) || quantity(string(self)).compareTo(quantity('${min}')) >= 0`,
          message: `${field} must be at least ${min}`,
        },
      ],
    });
}

/** An absolute path with no `..` segment (checked again by the agent). */
export const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\//, 'must be an absolute path')
  .refine((p) => !/(^|\/)\.\.(\/|$)/.test(p), { message: 'must not contain ".." segments' })
  .meta({
    'x-kubernetes-validations': [{ rule: "!self.matches('(^|/)[.][.](/|$)')", message: 'must not contain ".." segments' }],
  });

/**
 * The guest CPU model: `host-model` (the host's CPU as the nearest named
 * model: migrates between compatible hosts), `host-passthrough` (the physical
 * CPU as is: migrates only between identical hosts), or a named libvirt model
 * such as `Nehalem`, `EPYC` or `qemu64` (oVirt's cluster CPU type: the same
 * CPU on every host, whatever the hardware). The host checks a named model
 * against what its QEMU and CPU offer when the VM is defined.
 */
export const cpuModel = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be host-model, host-passthrough or a CPU model name (letters, digits, ".", "_", "-")');

/** A path relative to a storage domain's root, without `..` (kernel images, ISO files). */
export const relativePath = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[^/]/, 'must be a path relative to the storage domain')
  .refine((p) => !/(^|\/)\.\.(\/|$)/.test(p), { message: 'must not contain ".." segments' })
  .meta({
    'x-kubernetes-validations': [{ rule: "!self.matches('(^|/)[.][.](/|$)')", message: 'must not contain ".." segments' }],
  });

/** metav1.LabelSelector's matchLabels/matchExpressions subset. */
export const labelSelector = z.object({
  /** Labels a Host must carry, each with exactly this value. */
  matchLabels: z.record(z.string().max(317), z.string().max(63)).optional(),
  /** Requirements on Host labels; all must hold. */
  matchExpressions: z
    .array(
      z.object({
        /** The label key. */
        key: z.string().min(1).max(317),
        /** In / NotIn: the label's value is (not) one of values; Exists / DoesNotExist: the label is (not) there. */
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        /** Values for In and NotIn. */
        values: z.array(z.string().max(63)).optional(),
      }),
    )
    .optional(),
});
/** A label selector as parsed. */
export type LabelSelector = z.infer<typeof labelSelector>;

/** A reference to a Secret in the same namespace. */
export const secretRef = z.object({ name: dnsSubdomain });

/** The status of a condition, as in metav1.ConditionStatus. */
export const conditionStatus = z.enum(['True', 'False', 'Unknown']);

/** metav1.Condition, field for field. */
export const condition = z.object({
  /** The condition's type (Ready, Stalled, ...), unique in the list. */
  type: z.string().min(1).max(316),
  /** True, False or Unknown. */
  status: conditionStatus,
  /** The spec generation the condition was computed for. */
  observedGeneration: z.int().nonnegative().optional(),
  /** When status last changed (RFC 3339). */
  lastTransitionTime: z.string(),
  /** A CamelCase reason for the status (NoHostAvailable, LeaseHeld, ...). */
  reason: z.string().min(1).max(1024).regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  /** A human-readable explanation. */
  message: z.string().max(32768),
});
/** A condition in status. */
export type Condition = z.infer<typeof condition>;

/** The conditions list, merged by type on server-side apply. */
export const conditions = z
  .array(condition)
  .max(32)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });

/** The envelope every Drover object has. Metadata is left to the API server. */
export const objectMeta = z
  .object({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    generation: z.int().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    finalizers: z.array(z.string()).optional(),
    deletionTimestamp: z.string().optional(),
    creationTimestamp: z.string().optional(),
  })
  .passthrough();
/** Object metadata as the operator reads it. */
export type ObjectMeta = z.infer<typeof objectMeta>;
