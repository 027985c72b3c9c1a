import { parseDuration, parseDurationInRange, parseHostPort, parseIface, parseNodeName, parsePort, parseTags, parseUrl } from './flag-values';
import { UsageError } from './usage-error';

describe('parseDuration', () => {
  it.each([
    ['1h', 3_600_000],
    ['30m', 1_800_000],
    ['3600s', 3_600_000],
    ['250ms', 250],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['2d', 172_800_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration('--ttl', text, 'keys create')).toBe(ms);
  });

  it.each(['', '1', 'h', '1x', '10 m', '-1s', '1h30'])('rejects %j with the flag and an example', (text) => {
    expect(() => parseDuration('--ttl', text, 'keys create')).toThrow(UsageError);
    expect(() => parseDuration('--ttl', text, 'keys create')).toThrow(/--ttl ".*" is not a duration; use .* e\.g\. 30s/);
  });

  it('takes a bare number in the default unit when one is given', () => {
    expect(parseDuration('--duration', '10', 'lab demo', 's')).toBe(10_000);
  });

  it('enforces ranges', () => {
    expect(() => parseDurationInRange('--ttl', '500ms', 'keys create', 1000, 86_400_000)).toThrow(
      '--ttl "500ms" is out of range; use between 1s and 1d',
    );
    expect(parseDurationInRange('--ttl', '1h', 'keys create', 1000, 86_400_000)).toBe(3_600_000);
  });
});

describe('parseIface', () => {
  it('accepts names up to 15 characters of [a-zA-Z0-9_-]', () => {
    expect(parseIface('--iface', 'trlwg1', 'up')).toBe('trlwg1');
    expect(parseIface('--iface', 'a23456789012345', 'up')).toBe('a23456789012345');
  });
  it('names the length when too long', () => {
    expect(() => parseIface('--iface', 'a234567890123456', 'up')).toThrow('is 16 characters long (at most 15)');
  });
  it('names the allowed characters', () => {
    expect(() => parseIface('--iface', 'wg/0', 'up')).toThrow('may only hold letters, digits, _ and -');
    expect(() => parseIface('--iface', '', 'up')).toThrow(UsageError);
  });
});

describe('other values', () => {
  it('ports are 1..65535', () => {
    expect(parsePort('--listen-port', '51820', 'up')).toBe(51820);
    for (const bad of ['0', '65536', 'x', '1.5', '-1']) expect(() => parsePort('--listen-port', bad, 'up')).toThrow(UsageError);
  });
  it('tags match ^[a-z0-9][a-z0-9-]*$ and are de-duplicated', () => {
    expect(parseTags('--tags', 'web,db-1, web', 'keys create')).toEqual(['web', 'db-1']);
    expect(() => parseTags('--tags', 'web,-db', 'keys create')).toThrow('tag "-db" is invalid');
    expect(() => parseTags('--tags', 'Web', 'keys create')).toThrow('tag "Web" is invalid');
  });
  it('host:port, with IPv6 in brackets', () => {
    expect(parseHostPort('--listen', '127.0.0.1:0', 'controller')).toBe('127.0.0.1:0');
    expect(parseHostPort('--listen', '[::1]:8080', 'controller')).toBe('[::1]:8080');
    expect(() => parseHostPort('--listen', '127.0.0.1', 'controller')).toThrow('is not host:port');
    expect(() => parseHostPort('--listen', 'h:99999', 'controller')).toThrow('is not host:port');
  });
  it('URLs are http(s) and lose a trailing slash', () => {
    expect(parseUrl('--controller', 'http://h:1/', 'up')).toBe('http://h:1');
    expect(() => parseUrl('--controller', 'ftp://h', 'up')).toThrow('must be an http:// or https:// URL');
    expect(() => parseUrl('--controller', 'nope', 'up')).toThrow('is not a URL');
  });
});

describe('parseNodeName', () => {
  it('follows the controller: DNS-label style names', () => {
    expect(parseNodeName('--name', 'n1', 'up')).toBe('n1');
    expect(parseNodeName('--name', 'web-01', 'up')).toBe('web-01');
    for (const bad of ['N1', '-a', 'a-', 'a_b', '', 'x'.repeat(64)]) expect(() => parseNodeName('--name', bad, 'up')).toThrow(UsageError);
  });
});
