/**
 * The operator's second line of defence: every manifest in test/invalid/ that
 * the API server rejects must also be rejected by the kind's zod schema, with
 * the formatted issues naming the same field. Headers of a corpus file:
 *
 *   # expect: <substring of the API server's error>          (required, first line)
 *   # zod: <substring of formatIssues() output>              (optional, when it differs)
 *   # zod: skip (<reason>)                                   (zod structurally can't see it)
 *
 * There is no way to mark a file as an expected failure: a gap between the API
 * server and zod is a bug to fix in src/api.
 */
import { describe, expect, it, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { hostObject, managerObject, storageDomainObject, virtualMachineObject } from '../../../src/api/kinds.js';
import { formatIssues, validate } from '../../../src/operator/validation.js';
import { EXAMPLES_DIR, SCHEMAS, loadCorpus, type CorpusFile } from '../../support/corpus.js';

const corpus = loadCorpus();
const NS = 'corpus-ns';

function parseManifest(c: CorpusFile): Record<string, unknown> {
  return parse(c.text.replaceAll('PLACEHOLDER_NS', NS)) as Record<string, unknown>;
}

function schemaFor(object: Record<string, unknown>): z.ZodType {
  const schema = SCHEMAS[String(object['kind'])];
  if (!schema) throw new Error(`no schema for kind ${String(object['kind'])}`);
  return schema;
}

describe('invalid corpus (test/invalid)', () => {
  it('has at least 35 files, each one object of a Drover kind in PLACEHOLDER_NS', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(35);
    for (const c of corpus) {
      const docs = parseAllDocuments(c.text).filter((d) => d.contents !== null);
      expect({ file: c.file, docs: docs.length }).toEqual({ file: c.file, docs: 1 });
      const object = parseManifest(c);
      expect({ file: c.file, apiVersion: object['apiVersion'] }).toEqual({ file: c.file, apiVersion: 'drover.io/v1alpha1' });
      expect(Object.keys(SCHEMAS)).toContain(object['kind']);
      expect((object['metadata'] as Record<string, unknown>)['namespace']).toBe(NS);
    }
  });

  it('covers every kind', () => {
    const kinds = new Set(corpus.map((c) => String(parseManifest(c)['kind'])));
    expect([...kinds].sort()).toEqual(Object.keys(SCHEMAS).sort());
  });

  it('only skips zod for what zod cannot see (transition rules, strict unknown fields)', () => {
    for (const c of corpus.filter((f) => f.skipReason !== undefined)) {
      expect({ file: c.file, reason: c.skipReason }).toEqual({
        file: c.file,
        reason: expect.stringMatching(/unknown (key|field)|transition|immutab/i),
      });
    }
  });

  // A skipped file must really be invisible to zod, otherwise the skip is hiding a check.
  for (const c of corpus.filter((f) => f.skipReason !== undefined)) {
    it(`${c.file}: zod accepts it (skip is justified: ${c.skipReason})`, () => {
      const object = parseManifest(c);
      const result = schemaFor(object).safeParse(object);
      expect(result.success).toBe(true);
      if (/unknown (key|field)/i.test(c.skipReason ?? '')) {
        // The unknown key is stripped, not kept: the operator never acts on it.
        const field = c.expect.replace(/^\./, '').split('.');
        let node: unknown = result.data;
        for (const key of field.slice(0, -1)) node = (node as Record<string, unknown>)[key];
        expect(node).toBeDefined();
        expect(Object.keys(node as object)).not.toContain(field[field.length - 1]);
      }
    });
  }

  for (const c of corpus.filter((f) => f.skipReason === undefined)) {
    const needle = c.zod ?? c.expect;
    test(`${c.file}: zod rejects it naming "${needle}"`, () => {
      const object = parseManifest(c);
      const result = schemaFor(object).safeParse(object);
      expect(result.success).toBe(false);
      const message = formatIssues(result.error?.issues ?? []);
      expect(message).toContain(needle);
    });
  }
});

describe('examples', () => {
  const objects = readdirSync(EXAMPLES_DIR, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(EXAMPLES_DIR, file), 'utf8'))
        .map((d) => d.toJS() as Record<string, unknown> | null)
        // Drover's objects only (examples/gitops also holds kustomizations and Argo CD / Flux objects).
        .filter((o): o is Record<string, unknown> => o !== null && String(o['apiVersion']).startsWith('drover.io/'))
        .map((object) => ({ file, object })),
    );

  it('contain every Drover kind but migrations', () => {
    const kinds = new Set(objects.map((o) => String(o.object['kind'])));
    for (const kind of ['Manager', 'Host', 'StorageDomain', 'VirtualMachine']) expect(kinds).toContain(kind);
  });

  for (const { file, object } of objects) {
    const name = (object['metadata'] as { name: string }).name;
    it(`${file} ${String(object['kind'])}/${name} is valid for zod`, () => {
      const result = validate(schemaFor(object), object);
      expect(result).toEqual({ ok: true, value: expect.anything() });
    });
  }
});

describe('defaults', () => {
  const meta = { name: 'x', namespace: NS };

  it('Host: port 54321 and the other spec defaults', () => {
    const host = hostObject.parse({ apiVersion: 'drover.io/v1alpha1', kind: 'Host', metadata: meta, spec: { address: '10.0.0.1' } });
    expect(host.spec).toEqual({
      address: '10.0.0.1',
      port: 54321,
      maintenance: false,
      drainPolicy: 'Block',
      selfHostedEngineNode: false,
      spmPriority: 5,
    });
  });

  it('Host: an explicit port is kept', () => {
    const host = hostObject.parse({ apiVersion: 'drover.io/v1alpha1', kind: 'Host', metadata: meta, spec: { address: 'h', port: 1 } });
    expect(host.spec.port).toBe(1);
  });

  it('VirtualMachine: runStrategy Always, HA off at priority 50, cpu 1x1', () => {
    const vm = virtualMachineObject.parse({
      apiVersion: 'drover.io/v1alpha1',
      kind: 'VirtualMachine',
      metadata: meta,
      spec: { cpu: { cores: 2 }, memory: '256Mi', boot: { storageDomain: 'images', kernel: 'vmlinuz' } },
    });
    expect(vm.spec.runStrategy).toBe('Always');
    expect(vm.spec.highAvailability).toEqual({ enabled: false, priority: 50 });
    expect(vm.spec.cpu).toEqual({ cores: 2, sockets: 1, threads: 1 });
    expect(vm.spec.acceleration).toBe('Auto');
    expect(vm.spec.diskDeletionPolicy).toBe('Retain');
    expect(vm.spec.terminationGracePeriodSeconds).toBe(60);
  });

  it('VirtualMachine: disk bus virtio and readOnly false', () => {
    const vm = virtualMachineObject.parse({
      apiVersion: 'drover.io/v1alpha1',
      kind: 'VirtualMachine',
      metadata: meta,
      spec: { cpu: { cores: 1 }, memory: '1Gi', disks: [{ name: 'root', storageDomain: 'data', size: '1Gi', bootOrder: 1 }] },
    });
    expect(vm.spec.disks?.[0]).toMatchObject({ bus: 'virtio', readOnly: false });
  });

  it('Manager: an empty spec gets Standalone mode and every scheduling/migration/availability default', () => {
    const manager = managerObject.parse({ apiVersion: 'drover.io/v1alpha1', kind: 'Manager', metadata: meta, spec: {} });
    expect(manager.spec.mode).toBe('Standalone');
    expect(manager.spec.selfHosted).toBeUndefined();
    expect(manager.spec.scheduling).toEqual({ policy: 'EvenlyDistributed', cpuOvercommitPercent: 400, memoryOvercommitPercent: 100 });
    expect(manager.spec.migration).toEqual({
      maxParallelMigrations: 5,
      maxOutboundPerHost: 2,
      progressTimeoutSeconds: 150,
      bandwidthMiBps: 0,
      autoConverge: true,
      compressed: false,
    });
    expect(manager.spec.availability).toEqual({
      heartbeatIntervalSeconds: 5,
      nonResponsiveAfterSeconds: 60,
      fencingGraceSeconds: 300,
      skipFencingIfStorageHeartbeat: true,
      skipFencingIfConnectivityBrokenPercent: 50,
      pausedOnStorageErrorKillSeconds: 80,
      leaseFailoverAfterSeconds: 10,
      storageHeartbeatTimeoutSeconds: 30,
      softFencingTimeoutSeconds: 60,
    });
  });

  it('Manager: a partial scheduling block is completed, not replaced', () => {
    const manager = managerObject.parse({
      apiVersion: 'drover.io/v1alpha1',
      kind: 'Manager',
      metadata: meta,
      spec: { scheduling: { policy: 'PowerSaving' } },
    });
    expect(manager.spec.scheduling).toEqual({ policy: 'PowerSaving', cpuOvercommitPercent: 400, memoryOvercommitPercent: 100 });
  });

  it('Manager: self-hosted defaults (maintenance None, 2 cores, bridge br0)', () => {
    const manager = managerObject.parse({
      apiVersion: 'drover.io/v1alpha1',
      kind: 'Manager',
      metadata: meta,
      spec: {
        mode: 'SelfHosted',
        selfHosted: {
          storageDomain: 'he',
          hostSelector: {},
          vm: { memory: '512Mi', kernel: 'vmlinuz' },
          healthURL: 'http://10.0.0.1/healthz',
        },
      },
    });
    expect(manager.spec.selfHosted?.maintenance).toBe('None');
    expect(manager.spec.selfHosted?.vm.cpu).toEqual({ cores: 2 });
    expect(manager.spec.selfHosted?.vm.bridge).toBe('br0');
  });

  it('StorageDomain: role Data and warningLowSpacePercent 10', () => {
    const sd = storageDomainObject.parse({
      apiVersion: 'drover.io/v1alpha1',
      kind: 'StorageDomain',
      metadata: meta,
      spec: { type: 'NFS', nfs: { server: 'nfs', path: '/exports' } },
    });
    expect(sd.spec.role).toBe('Data');
    expect(sd.spec.warningLowSpacePercent).toBe(10);
  });

  it('validate() reports InvalidSpec-style messages with the field path', () => {
    const result = validate(hostObject, { apiVersion: 'drover.io/v1alpha1', kind: 'Host', metadata: meta, spec: { address: 'h', port: 0 } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(/^spec\.port: /);
  });
});
