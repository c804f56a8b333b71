/**
 * Steps every reconciler shares: the invalid-spec branch, finalizers, and the
 * one status write at the end of a reconcile.
 */
import type { z } from 'zod';
import { ConditionType, Reason, setCondition, type Condition } from '../api/index.js';
import { ApiError, type KubeObject, type ResourceType } from '../kube/types.js';
import { FINALIZER } from '../operator/resources.js';
import { writeStatusIfChanged } from '../operator/status.js';
import { validate } from '../operator/validation.js';
import type { OperatorContext } from './context.js';

/** A status with conditions and observedGeneration, the shape all kinds share. */
export interface CommonStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  [key: string]: unknown;
}

/**
 * Validates `object` with `schema`. When invalid, writes Ready=False with
 * reason InvalidSpec and the field paths, records a Warning event once, and
 * returns undefined: the caller stops there and does not requeue, so an
 * invalid object costs one reconcile per change, never a hot loop.
 */
export async function validateOrReport<S extends z.ZodType>(
  ctx: OperatorContext,
  type: ResourceType,
  object: KubeObject,
  schema: S,
): Promise<z.output<S> | undefined> {
  const cached = validated.get(object)?.get(schema);
  if (cached !== undefined) return cached as z.output<S>;
  const result = validate(schema, object);
  if (result.ok) {
    let bySchema = validated.get(object);
    if (!bySchema) validated.set(object, (bySchema = new Map()));
    bySchema.set(schema, result.value);
    return result.value;
  }
  const previous = (object.status ?? {}) as CommonStatus;
  const status: CommonStatus = {
    ...previous,
    observedGeneration: object.metadata.generation,
    conditions: withStalled(
      ctx,
      object,
      setCondition(
        previous.conditions,
        {
          type: ConditionType.Ready,
          status: 'False',
          reason: Reason.InvalidSpec,
          message: result.message,
          observedGeneration: object.metadata.generation,
        },
        ctx.now(),
      ),
      Reason.InvalidSpec,
      result.message,
    ),
  };
  if (await writeStatusIfChanged(ctx.client, type, object, status)) {
    ctx.events.event(object, 'Warning', Reason.InvalidSpec, result.message);
  }
  return undefined;
}

/**
 * Parsed objects by informer object instance: the informer replaces an
 * object on every change and never changes one, so a pass over an object
 * already parsed (agent events re-run VMs and Hosts whose objects did not
 * change) reuses the parse (zod was ~5 % of the operator's CPU at 800 VMs).
 * Callers read the value and never change it.
 */
const validated = new WeakMap<object, Map<z.ZodType, unknown>>();

/** Adds Drover's finalizer if missing; returns true when it wrote (the reconcile should end there). */
export async function ensureFinalizer(ctx: OperatorContext, type: ResourceType, object: KubeObject): Promise<boolean> {
  const finalizers = object.metadata.finalizers ?? [];
  if (finalizers.includes(FINALIZER)) return false;
  await ctx.client.setFinalizers(type, object, [...finalizers, FINALIZER]);
  return true;
}

/** Removes Drover's finalizer so the API server can delete the object. */
export async function removeFinalizer(ctx: OperatorContext, type: ResourceType, object: KubeObject): Promise<void> {
  const finalizers = object.metadata.finalizers ?? [];
  if (!finalizers.includes(FINALIZER)) return;
  try {
    await ctx.client.setFinalizers(
      type,
      object,
      finalizers.filter((f) => f !== FINALIZER),
    );
  } catch (error) {
    // Already gone (a second pass over an object whose deletion just completed): nothing left to do.
    if (error instanceof ApiError && error.code === 404) return;
    throw error;
  }
}

/** True when the object is being deleted. */
export function isDeleting(object: KubeObject): boolean {
  return Boolean(object.metadata.deletionTimestamp);
}

/**
 * Sets the Ready condition on a status, stamped with the object's generation.
 * A reconcile that gets this far is making progress, so a Stalled condition
 * left by an earlier pass (an invalid spec since fixed) is dropped.
 */
export function withReady(
  ctx: OperatorContext,
  object: KubeObject,
  conditions: Condition[] | undefined,
  ready: boolean,
  reason: string,
  message: string,
): Condition[] {
  return setCondition(
    conditions?.filter((c) => c.type !== ConditionType.Stalled),
    { type: ConditionType.Ready, status: ready ? 'True' : 'False', reason, message, observedGeneration: object.metadata.generation },
    ctx.now(),
  );
}

/**
 * Sets Stalled=True (kstatus: Failed): the object cannot make progress until
 * its spec changes. {@link withReady} clears it on the next pass that does.
 */
export function withStalled(
  ctx: OperatorContext,
  object: KubeObject,
  conditions: Condition[] | undefined,
  reason: string,
  message: string,
): Condition[] {
  return setCondition(
    conditions,
    { type: ConditionType.Stalled, status: 'True', reason, message, observedGeneration: object.metadata.generation },
    ctx.now(),
  );
}
