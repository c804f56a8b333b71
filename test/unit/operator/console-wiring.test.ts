/** Where the console proxy listens by default: beside enrollment, so test environments on different subnets never collide. */
import { consoleListenAddress } from '../../../src/operator/console-wiring.js';

describe('consoleListenAddress', () => {
  it('follows the enrollment host on port 9444, and a free port when enrollment takes one', () => {
    expect(consoleListenAddress({ enrollListen: '0.0.0.0:9443' })).toEqual({ host: '0.0.0.0', port: 9444 });
    expect(consoleListenAddress({ enrollListen: '10.247.99.1:9443' })).toEqual({ host: '10.247.99.1', port: 9444 });
    expect(consoleListenAddress({ enrollListen: '127.0.0.1:0' })).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('takes an explicit address, and an empty one turns the proxy off', () => {
    expect(consoleListenAddress({ enrollListen: '0.0.0.0:9443', consoleListen: '[::1]:8444' })).toEqual({ host: '::1', port: 8444 });
    expect(consoleListenAddress({ enrollListen: '0.0.0.0:9443', consoleListen: '' })).toBeUndefined();
    expect(() => consoleListenAddress({ enrollListen: '0.0.0.0:9443', consoleListen: 'nonsense' })).toThrow(/invalid listen address/);
  });
});
