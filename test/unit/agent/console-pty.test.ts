/** Which pty the agent opens for a domain's console, read from live domain XML. */
import { consolePtyPath, isDroverDomain } from '../../../src/agent/console/index.js';
import { DROVER_XMLNS } from '../../../src/hypervisor/domainxml/types.js';

const live = (serial: string, console: string) => `<domain type='qemu'><metadata><drover:domain xmlns:drover="${DROVER_XMLNS}"/></metadata><devices>${serial}${console}</devices></domain>`;

describe('consolePtyPath', () => {
  it('reads the tty of the pty console', () => {
    const xml = live(
      "<serial type='pty'><source path='/dev/pts/7'/><target type='isa-serial' port='0'/></serial>",
      "<console type='pty' tty='/dev/pts/7'><source path='/dev/pts/7'/><target type='serial' port='0'/></console>",
    );
    expect(consolePtyPath(xml)).toBe('/dev/pts/7');
  });

  it('falls back to the serial port source', () => {
    expect(consolePtyPath(live("<serial type='pty'><source path='/dev/pts/3'/></serial>", ''))).toBe('/dev/pts/3');
  });

  it('has none for a defined but stopped domain (no tty yet)', () => {
    expect(consolePtyPath(live("<serial type='pty'><target port='0'/></serial>", "<console type='pty'><target type='serial' port='0'/></console>"))).toBeUndefined();
  });

  it('opens nothing but /dev/pts/N', () => {
    expect(consolePtyPath(live('', "<console type='pty' tty='/etc/shadow'/>"))).toBeUndefined();
    expect(consolePtyPath(live('', "<console type='pty' tty='/dev/pts/1/../../sda'/>"))).toBeUndefined();
  });
});

describe('isDroverDomain', () => {
  it('tells Drover domains from others', () => {
    expect(isDroverDomain(live('', ''))).toBe(true);
    expect(isDroverDomain("<domain type='kvm'><name>foreign</name></domain>")).toBe(false);
  });
});
