import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { virtualMachineObject } from '../../../src/api/index.js';
import { formatIssues, validate } from '../../../src/operator/validation.js';
import { vmObj } from '../support/operator-context.js';

describe('formatIssues', () => {
  it('joins paths with dots and brackets, and issues with "; "', () => {
    const issues = [
      { code: 'custom', message: 'is required', path: ['spec', 'cpu'], input: undefined },
      { code: 'custom', message: 'too small', path: ['spec', 'disks', 0, 'size'], input: 1 },
      { code: 'custom', message: 'whole object is bad', path: [], input: {} },
      { code: 'custom', message: 'top-level index', path: [2, 'name'], input: {} },
    ] as unknown as z.core.$ZodIssue[];
    expect(formatIssues(issues)).toBe(
      'spec.cpu: is required; spec.disks[0].size: too small; whole object is bad; [2].name: top-level index',
    );
  });

  it('is empty for no issues', () => {
    expect(formatIssues([])).toBe('');
  });
});

describe('validate', () => {
  const schema = z.object({ name: z.string(), replicas: z.int().default(1), tags: z.array(z.string()).optional() });

  it('returns the parsed value with defaults applied', () => {
    expect(validate(schema, { name: 'x' })).toEqual({ ok: true, value: { name: 'x', replicas: 1 } });
  });

  it('explains every invalid field with its path', () => {
    const result = validate(schema, { replicas: 'two', tags: ['ok', 3] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toMatch(/^name: /);
    expect(result.message).toContain('; replicas: ');
    expect(result.message).toContain('; tags[1]: ');
  });

  it('names spec.cpu for a VirtualMachine without it, and accepts the builder VM', () => {
    const bad = vmObj('vm', 'ns');
    delete (bad.spec as Record<string, unknown>)['cpu'];
    const result = validate(virtualMachineObject, bad);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain('spec.cpu');
    const good = validate(virtualMachineObject, vmObj('vm', 'ns'));
    expect(good.ok).toBe(true);
    if (good.ok) expect(good.value.spec.runStrategy).toBe('Always');
  });
});
