import { describe, expect, it } from '@jest/globals';
import {
  bootstrapTokenSecret,
  formatBootstrapToken,
  generateBootstrapToken,
  parseBootstrapToken,
  readBootstrapTokenSecret,
} from '../../../src/pki/bootstrap-token.js';
import { BOOTSTRAP_TOKEN_PATTERN } from '../../../src/pki/types.js';
import { FakeSecretStore } from './fake-secret-store.js';

describe('bootstrap tokens', () => {
  it('are random, well-formed, and round-trip through their Secret', () => {
    const tokens = Array.from({ length: 200 }, generateBootstrapToken);
    for (const t of tokens) expect(formatBootstrapToken(t)).toMatch(BOOTSTRAP_TOKEN_PATTERN);
    expect(new Set(tokens.map((t) => t.secret)).size).toBe(200);
    const store = new FakeSecretStore();
    const expiration = new Date('2030-01-02T03:04:05Z');
    const stored = store.put('ns', bootstrapTokenSecret({ ...tokens[0]!, host: 'host1', expiration }));
    expect(stored.name).toBe(`bootstrap-token-${tokens[0]!.id}`);
    expect(stored.type).toBe('drover.io/bootstrap-token');
    expect(stored.data['expiration']).toBe('2030-01-02T03:04:05Z');
    expect(readBootstrapTokenSecret(stored, tokens[0]!.id)).toEqual({ ...tokens[0], host: 'host1', expiration });
  });

  it('parse refuses malformed tokens without echoing them', () => {
    expect(parseBootstrapToken(' abcdef.0123456789abcdef\n')).toEqual({ id: 'abcdef', secret: '0123456789abcdef' });
    expect(() => parseBootstrapToken('abcdef.SECRETSECRETSECR')).toThrow(/must look like/);
    try {
      parseBootstrapToken('abcdef.SECRETSECRETSECR');
    } catch (e) {
      expect((e as Error).message).not.toContain('SECRET');
    }
  });

  it('a Secret of another type, another id, or an unreadable expiration is no token', () => {
    const t = generateBootstrapToken();
    const base = { name: 'x', namespace: 'ns', uid: 'u', resourceVersion: '1', labels: {} };
    const good = { ...base, type: 'drover.io/bootstrap-token', data: { 'token-id': t.id, 'token-secret': t.secret } };
    expect(readBootstrapTokenSecret(good, t.id)).toEqual(t);
    expect(readBootstrapTokenSecret({ ...good, type: 'Opaque' }, t.id)).toBeUndefined();
    expect(readBootstrapTokenSecret(good, 'zzzzzz')).toBeUndefined();
    expect(readBootstrapTokenSecret({ ...good, data: { ...good.data, expiration: 'tomorrow' } }, t.id)).toBeUndefined();
  });
});
