import { parseProfile, validateProfile } from './profile';
import { officeProfile } from './test-profiles';

const withClass = (name: string, patch: Record<string, unknown>) => {
  const p = officeProfile() as unknown as { classes: Record<string, Record<string, unknown>> };
  p.classes[name] = { ...p.classes[name], ...patch };
  return p;
};

describe('validateProfile', () => {
  it('accepts a good profile', () => {
    expect(validateProfile(officeProfile())).toEqual([]);
    expect(parseProfile(officeProfile()).name).toBe('office');
  });

  it.each([
    ['rate above ceiling', withClass('bulk', { rateMbit: 90, ceilMbit: 80 }), 'class "bulk": rate 90 Mbit is above its ceiling 80 Mbit'],
    ['ceiling above link', withClass('bulk', { ceilMbit: 150 }), 'class "bulk": ceiling 150 Mbit is above the link rate 100 Mbit'],
    ['guaranteed sum above link', withClass('default', { rateMbit: 60 }), 'the guaranteed rates add up to 120 Mbit, above the link rate 100 Mbit'],
    ['unknown class', { ...officeProfile(), classes: { ...officeProfile().classes, video: { rateMbit: 1, ceilMbit: 1, priority: 1 } } }, 'unknown class "video"; the classes are realtime, critical, default, bulk'],
    ['missing class', { ...officeProfile(), classes: { realtime: officeProfile().classes.realtime } }, 'class "critical" is missing'],
    ['overlapping ports', withClass('bulk', { match: { ports: [{ proto: 'udp', from: 3480, to: 3500 }] } }), 'udp ports 3478-3481 of "realtime" overlap udp ports 3480-3500 of "bulk"'],
    ['overlapping CIDRs', withClass('bulk', { match: { destinations: ['10.20.5.0/24'] } }), 'destination 10.20.0.0/16 of "critical" overlaps 10.20.5.0/24 of "bulk"'],
    ['same DSCP twice', withClass('critical', { match: { dscp: [46] } }), 'DSCP 46 is matched by both "realtime" and "critical"'],
    ['bad CIDR', withClass('bulk', { match: { destinations: ['10.0.0.0/33'] } }), 'class "bulk": bad CIDR "10.0.0.0/33"; use an IPv4 prefix like 10.1.0.0/16'],
    ['bad port', withClass('bulk', { match: { ports: [{ proto: 'tcp', from: 70000 }] } }), 'class "bulk": bad port "tcp 70000"; ports are integers 1..65535'],
    ['reversed port range', withClass('bulk', { match: { ports: [{ proto: 'tcp', from: 900, to: 800 }] } }), 'class "bulk": bad port range "tcp 900-800"; from is above to'],
    ['match on default', withClass('default', { match: { dscp: [8] } }), 'class "default" takes everything no other class matches; remove its match'],
    ['bad priority', withClass('bulk', { priority: 9 }), 'class "bulk": priority must be an integer from 0 (highest) to 7'],
    ['cap without target', { ...officeProfile(), caps: [{ rateMbit: 5 }] }, 'caps[0] needs exactly one of peer or destination'],
    ['cap with bad CIDR', { ...officeProfile(), caps: [{ destination: 'nope', rateMbit: 5 }] }, 'caps[0]: bad CIDR "nope"; use an IPv4 prefix like 10.1.0.0/16'],
  ])('refuses %s with its own message', (_case, profile, message) => {
    expect(validateProfile(profile)).toContain(message);
    expect(() => parseProfile(profile)).toThrow(message);
  });

  it('does not call ports on different protocols an overlap', () => {
    expect(validateProfile(withClass('bulk', { match: { ports: [{ proto: 'tcp', from: 3478 }] } }))).toEqual([]);
  });

  it('names the profile and the error code when refusing', () => {
    expect(() => parseProfile(withClass('bulk', { ceilMbit: 150 }))).toThrow(
      expect.objectContaining({ code: 'TRELLIS_ERR_SHAPING_PROFILE_INVALID', message: expect.stringContaining('shaping profile "office" is invalid') }),
    );
  });
});
