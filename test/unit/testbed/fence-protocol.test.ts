/** The fence-agents stdin protocol as the test bed's fence agent reads it. */
import { FENCE_EXIT, parseFenceRequest } from '../../../src/dev/testbed/fence-protocol.js';

describe('parseFenceRequest', () => {
  it('reads name=value lines, trimming blanks, skipping comments and empty lines', () => {
    const r = parseFenceRequest('# fenced by drover\n\n action = off \nplug=flt-1\nstate_dir=/tmp/tb\n', ['state_dir']);
    expect(r).toEqual({ action: 'off', plug: 'flt-1', options: { action: 'off', plug: 'flt-1', state_dir: '/tmp/tb' }, warnings: [] });
  });

  it('accepts the old aliases option= and port=', () => {
    const r = parseFenceRequest('option=status\nport=flt-2\n');
    expect(r.action).toBe('status');
    expect(r.plug).toBe('flt-2');
  });

  it('keeps "=" inside values', () => {
    expect(parseFenceRequest('action=on\nplug=h\nstate_dir=/a=b\n', ['state_dir']).options['state_dir']).toBe('/a=b');
  });

  it('defaults to reboot, as fence agents do', () => {
    expect(parseFenceRequest('plug=h\n').action).toBe('reboot');
  });

  it('accepts the soft-fencing action restart-agent', () => {
    expect(parseFenceRequest('action=restart-agent\nplug=h\n').action).toBe('restart-agent');
  });

  it('warns about unknown options and lines without "="', () => {
    const r = parseFenceRequest('action=status\nplug=h\nipaddr=1.2.3.4\ngarbage\n');
    expect(r.warnings).toEqual(['ignoring unknown option ipaddr', 'ignoring line without name=value: garbage']);
  });

  it('refuses an unknown action', () => {
    expect(() => parseFenceRequest('action=explode\nplug=h\n')).toThrow(/unknown action "explode"/);
  });

  it('needs a plug for on, off, reboot, status and restart-agent, but not for monitor, list or metadata', () => {
    for (const a of ['on', 'off', 'reboot', 'status', 'restart-agent']) expect(() => parseFenceRequest(`action=${a}\n`)).toThrow(/needs plug/);
    for (const a of ['monitor', 'list', 'metadata']) expect(parseFenceRequest(`action=${a}\n`).action).toBe(a);
  });

  it('uses the documented exit codes', () => {
    expect(FENCE_EXIT).toEqual({ success: 0, error: 1, off: 2 });
  });
});
