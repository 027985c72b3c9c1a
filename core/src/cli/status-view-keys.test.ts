import type { AgentKeyStatus } from '../wire';
import { renderKeyLines } from './status-view';
import { FIXED_STATUS, NOW } from './testing/agent-status-fixture';

const DAY = 86_400_000;
const keys = (over: Partial<AgentKeyStatus> = {}): AgentKeyStatus => ({
  wgKeyCreatedAt: NOW - 3 * DAY - 4 * 3_600_000,
  rotationIntervalMs: 30 * DAY,
  nextRotationAt: NOW + 26 * DAY + 20 * 3_600_000,
  rotateRequested: false,
  rotating: false,
  lastRotation: null,
  identityExpiresAt: NOW + 60 * DAY,
  nextRenewalAt: NOW + 30 * DAY,
  lastRenewal: null,
  ...over,
});
const key = FIXED_STATUS.node.wgKey;

describe('renderKeyLines', () => {
  it('shows the key age, the next rotation and the identity expiry', () => {
    expect(renderKeyLines({ ...FIXED_STATUS, keys: keys() }, NOW)).toBe(
      `key         ${key} (age 3d 4h, next rotation in 26d 20h, every 30d)\nidentity    expires in 60d, renews in 30d\n`,
    );
  });

  it('says when a rotation is requested or running, and why the last one failed', () => {
    const failed = { at: NOW - 65_000, reason: 'scheduled', outcome: 'failed' as const, error: 'controller at http://ctl is unreachable (ECONNREFUSED)' };
    expect(renderKeyLines({ ...FIXED_STATUS, keys: keys({ rotateRequested: true, lastRotation: failed, identityExpiresAt: null }) }, NOW)).toBe(
      `key         ${key} (age 3d 4h, rotation requested, every 30d)\n            last rotation failed 1m 5s ago: controller at http://ctl is unreachable (ECONNREFUSED)\n`,
    );
    expect(renderKeyLines({ ...FIXED_STATUS, keys: keys({ rotating: true, identityExpiresAt: null }) }, NOW)).toContain('(age 3d 4h, rotating now, every 30d)');
  });

  it('an agent older than key rotation shows the key alone', () => {
    expect(renderKeyLines(FIXED_STATUS, NOW)).toBe(`key         ${key}\n`);
  });
});
