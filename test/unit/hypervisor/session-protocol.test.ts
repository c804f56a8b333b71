/**
 * The virsh session's line protocol: which tokens may go into a line, how a
 * request is encoded, and how answers are cut out of the streams — on text
 * captured from virsh 9.0 in interactive mode (readline's echo included).
 */
import { describe, expect, it } from '@jest/globals';
import { canCarry, commandFailed, decodeResponse, encodeRequest, isPlainToken, StreamBuffer } from '../../../src/hypervisor/libvirt/session-protocol.js';

const UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f';
const NONCE = '0123456789ab';

describe('isPlainToken / canCarry', () => {
  it('accepts UUIDs, options, numbers and the paths the driver creates', () => {
    for (const t of [UUID, '--domain', '--reason', '300', '/tmp/drover-define-AbC123/domain.xml', 'qemu+tcp://10.0.0.1/system']) {
      expect({ t, plain: isPlainToken(t) }).toEqual({ t, plain: true });
    }
    expect(canCarry([['dominfo', '--domain', UUID], ['define', '--file', '/tmp/x/domain.xml']])).toBe(true);
  });

  it("refuses whatever virsh's line parser would interpret: whitespace, quotes, backslash, ';', '#', and '&' (framing)", () => {
    for (const t of ['', 'a b', 'a\tb', 'a\nb', "a'b", 'a"b', 'a\\b', 'a;b', '#x', 'a#b', 'a&gt;', '/tmp/my dir/domain.xml']) {
      expect({ t, plain: isPlainToken(t) }).toEqual({ t, plain: false });
    }
    expect(canCarry([['define', '--file', '/tmp/my dir/domain.xml']])).toBe(false);
    expect(canCarry([['dominfo', '--domain', UUID], ['destroy', `${UUID};undefine`]])).toBe(false);
  });

  it('requires a command name first and at least one command', () => {
    expect(canCarry([])).toBe(false);
    expect(canCarry([[]])).toBe(false);
    expect(canCarry([['--domain', UUID]])).toBe(false);
    expect(canCarry([['Dominfo', UUID]])).toBe(false);
  });
});

describe('encodeRequest', () => {
  it('writes one request line with a marker before each command and after the last, then a sync line', () => {
    const req = encodeRequest(NONCE, 7, [['domstate', '--reason', '--domain', UUID], ['dumpxml', '--inactive', '--domain', UUID]]);
    const tag = (i: string | number) => `@@${NONCE}.7.${i}`;
    const m = (i: string | number) => `echo --xml ${tag(i)}>; echo --err --xml ${tag(i)}>`;
    expect(req.text).toBe(
      `${m(0)}; domstate --reason --domain ${UUID}; ${m(1)}; dumpxml --inactive --domain ${UUID}; ${m(2)}\n${m('_')}\n`,
    );
    expect(req.stdoutMarkers).toEqual([0, 1, 2].map((i) => `${tag(i)}&gt;`));
    expect(req.stderrMarkers).toEqual([0, 1, 2].map((i) => `error: ${tag(i)}&gt;`));
    expect(req.syncStdout).toBe(`${tag('_')}&gt;`);
    expect(req.syncStderr).toBe(`error: ${tag('_')}&gt;`);
  });

  it('gives every marker of a long request its own tag, distinct from the sync marker', () => {
    const req = encodeRequest(NONCE, 1295, Array.from({ length: 100 }, () => ['domstate', '--domain', UUID]));
    const all = [...req.stdoutMarkers, req.syncStdout];
    expect(new Set(all).size).toBe(102);
    // No marker occurs inside another (indexOf would find it there).
    for (const a of all) for (const b of all) if (a !== b) expect(b.includes(a)).toBe(false);
    expect(req.syncStdout).toBe(`@@${NONCE}.zz._&gt;`);
  });

  it('refuses commands it cannot carry, and a malformed nonce or sequence number', () => {
    expect(() => encodeRequest(NONCE, 1, [['destroy', 'x y']])).toThrow(/refusing/);
    expect(() => encodeRequest('xyz', 1, [['list']])).toThrow();
    expect(() => encodeRequest('0123456789abcdef', 1, [['list']])).toThrow();
    expect(() => encodeRequest(NONCE, -1, [['list']])).toThrow();
  });
});

describe('decodeResponse', () => {
  const req = encodeRequest(NONCE, 3, [['domstate', '--reason', '--domain', UUID], ['dominfo', '--domain', 'nope'], ['list', '--all', '--uuid']]);
  const [t0, t1, t2, t3] = req.stdoutMarkers as [string, string, string, string];
  const [e0, e1, e2, e3] = req.stderrMarkers as [string, string, string, string];
  // What virsh -q prints: readline's echo of both lines (with the raw tags), the
  // markers without a newline, each command's own output byte for byte.
  const echo = `virsh # ${req.text.split('\n')[0]!}\n`;
  const stdout = `${echo}${t0}running (unknown)\n\n${t1}${t2}${UUID}\n\n${t3}virsh # ${req.text.split('\n')[1]!}\n`;
  const stderr = `${e0}\n${e1}\nerror: failed to get domain 'nope'\n${e2}\n${e3}\n`;

  it("gives each command its stdout and stderr, and tells failed commands by virsh's error: prefix", () => {
    const decoded = decodeResponse(req, stdout, stderr);
    expect(decoded).toEqual({
      kind: 'commands',
      outputs: [
        { stdout: 'running (unknown)\n\n', stderr: '' },
        { stdout: '', stderr: "error: failed to get domain 'nope'\n" },
        { stdout: `${UUID}\n\n`, stderr: '' },
      ],
    });
    if (decoded.kind !== 'commands') throw new Error('unreachable');
    expect(decoded.outputs.map(commandFailed)).toEqual([false, true, false]);
  });

  it('ignores what virsh printed before the first marker (the echo, asynchronous messages)', () => {
    const decoded = decodeResponse(req, `stray\n${stdout}`, `error: Disconnected from qemu+tcp://h/system due to end of file\n${stderr}`);
    expect(decoded.kind === 'commands' && decoded.outputs[0]).toEqual({ stdout: 'running (unknown)\n\n', stderr: '' });
  });

  it('reports a line virsh did not run (a parse error) as a line error carrying its message', () => {
    const refused = decodeResponse(req, `${echo}virsh # echo\n`, "error: command 'dominfo' doesn't support option --bogus\n");
    expect(refused).toEqual({ kind: 'line-error', stderr: "error: command 'dominfo' doesn't support option --bogus\n" });
  });

  it('is not fooled by the raw tags in the echoed line', () => {
    // Only the echo arrived: its tags end in '>' where virsh's markers print '&gt;'.
    expect(decodeResponse(req, echo, '').kind).toBe('line-error');
  });
});

describe('StreamBuffer', () => {
  it('finds a marker split across chunks, keeps what follows, and drops a line marker\'s newline', () => {
    const b = new StreamBuffer();
    b.push('abc@@dro');
    expect(b.takeThrough('@@drover:1&gt;')).toBeUndefined();
    b.push('ver:1&');
    expect(b.takeThrough('@@drover:1&gt;')).toBeUndefined();
    b.push('gt;\nnext');
    expect(b.takeThrough('@@drover:1&gt;', true)).toBe('abc');
    expect(b.clear()).toBe('next');
    b.push('x@@m&gt;\ny');
    expect(b.takeThrough('@@m&gt;')).toBe('x');
    expect(b.clear()).toBe('\ny');
  });

  it('searches a large answer arriving in many chunks without rescanning it', () => {
    const b = new StreamBuffer();
    const chunk = 'x'.repeat(64 * 1024);
    const t0 = performance.now();
    for (let i = 0; i < 200; i += 1) {
      b.push(chunk);
      expect(b.takeThrough('@@end&gt;')).toBeUndefined();
    }
    b.push('@@end&gt;');
    expect(b.takeThrough('@@end&gt;')?.length).toBe(200 * chunk.length);
    // 12.5 MiB searched once; rescanning it on every chunk would take seconds.
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('commandFailed and a reconnected session', () => {
  it('does not count virsh\'s "Reconnected to the hypervisor" as a failure, but does count a real error next to it', () => {
    expect(commandFailed({ stdout: 'x', stderr: 'error: Reconnected to the hypervisor\n' })).toBe(false);
    expect(commandFailed({ stdout: '', stderr: 'error: Reconnected to the hypervisor\nerror: failed to get domain \'x\'\n' })).toBe(true);
    expect(commandFailed({ stdout: '', stderr: 'error: failed to connect to the hypervisor\n' })).toBe(true);
  });
});
