import { clientAddressKey, normaliseAddress, trustProxySetting } from '../../src/api/client-address';
import { ConfigError, parseConfig } from '../../src/config';

/** Who a per-client limit counts against: the rules are pure, so they are checked without a stack. */
describe('the client address a limit counts against', () => {
  it('counts an IPv6 client by its /64, however it writes or rotates its address', () => {
    const forms = ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::9', '2001:0DB8:0001:0002:ffff::1'];
    expect(new Set(forms.map(normaliseAddress))).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(normaliseAddress('2001:db8:1:3::1')).not.toBe(normaliseAddress('2001:db8:1:2::1'));
  });

  it('counts an IPv4 client seen through an IPv6 socket as that IPv4 address', () => {
    expect(normaliseAddress('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientAddressKey('s'.repeat(32), '::ffff:203.0.113.7')).toBe(clientAddressKey('s'.repeat(32), '203.0.113.7'));
  });

  it('stores only a keyed hash of the address, different under another secret', () => {
    const key = clientAddressKey('a'.repeat(32), '203.0.113.7');
    expect(key).not.toContain('203.0.113.7');
    expect(key).toMatch(/^[\w-]{43}$/);
    expect(clientAddressKey('b'.repeat(32), '203.0.113.7')).not.toBe(key);
  });

  it('reads TRUST_PROXY as hops or proxy addresses, and refuses to trust every proxy', () => {
    expect(trustProxySetting(undefined)).toBe(false);
    expect(trustProxySetting('1')).toBe(1);
    expect(trustProxySetting('loopback, 10.0.0.0/8')).toEqual(['loopback', '10.0.0.0/8']);
    expect(() => parseConfig({ TRUST_PROXY: 'true' })).toThrow(ConfigError);
    expect(() => parseConfig({ TRUST_PROXY: 'true' })).toThrow(/TRUST_PROXY: .*never every proxy/);
  });
});
