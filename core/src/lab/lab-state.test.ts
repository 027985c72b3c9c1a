import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDir, readLabState, stateFilePath, writeLabState, type LabState } from './lab-state';

describe('lab state file', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'trellis-lab-state-')), 'lab');
  });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  const state = (): LabState => ({
    version: 1,
    dir,
    createdAt: 1,
    bridge: 'trlbr0',
    authKey: 'secret',
    configFile: null,
    probeIntervalMs: 1000,
    cliPath: '/x/cli/main.js',
    env: {},
    controller: null,
    nodes: [],
  });

  it('round-trips, creating the dir, with mode 0600 and no temp file left', () => {
    writeLabState(state());
    expect(readLabState(dir)).toEqual(state());
    expect(statSync(stateFilePath(dir)).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('reads null when there is no lab, and names a corrupt file', () => {
    expect(readLabState(dir)).toBeNull();
    writeLabState(state());
    writeFileSync(stateFilePath(dir), '{"version": 1');
    expect(() => readLabState(dir)).toThrow(/state file .*state\.json is corrupt .*run `trellis lab down`/);
  });

  it('labDir honours TRELLIS_LAB_DIR', () => {
    expect(labDir({})).toBe('/run/trellis-lab');
    expect(labDir({ TRELLIS_LAB_DIR: '/tmp/x' })).toBe('/tmp/x');
  });
});
