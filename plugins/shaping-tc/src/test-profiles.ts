/** Profiles shared by the unit tests (not shipped behaviour: only ever imported from *.test.ts). */
import type { ShapingProfile } from './profile';

export function officeProfile(): ShapingProfile {
  return {
    name: 'office',
    linkRateMbit: 100,
    classes: {
      realtime: { rateMbit: 20, ceilMbit: 50, priority: 0, match: { ports: [{ proto: 'udp', from: 3478, to: 3481 }] } },
      critical: { rateMbit: 30, ceilMbit: 100, priority: 1, match: { ports: [{ proto: 'tcp', from: 22 }], destinations: ['10.20.0.0/16'] } },
      default: { rateMbit: 30, ceilMbit: 100, priority: 2 },
      bulk: { rateMbit: 10, ceilMbit: 80, priority: 3, match: { ports: [{ proto: 'tcp', from: 873 }] } },
    },
  };
}
