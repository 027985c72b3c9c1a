import { ExitUseTable } from './exit-use';

const use = (inUse: string | null, problem: string | null = null) => ({ preferred: 'n3', fallback: 'n4', inUse, problem, switches: 0 });

describe('ExitUseTable', () => {
  it('keeps each client\'s last report and says when it changed', () => {
    const t = new ExitUseTable();
    expect(t.get('a')).toBeNull();
    expect(t.set('a', use('n3'), 1)).toBe(true);
    expect(t.set('a', use('n3'), 2)).toBe(false);
    expect(t.get('a')).toEqual({ ...use('n3'), reportedAt: 2 });
    expect(t.set('a', use('n4', 'exit node n3 is offline'), 3)).toBe(true);
    expect(t.set('a', { ...use('n4', 'exit node n3 is offline'), switches: 1 }, 4)).toBe(false);
    expect(t.get('a')?.switches).toBe(1);
    t.forget('a');
    expect(t.get('a')).toBeNull();
  });

  it('lists the online clients whose traffic leaves through an exit node now', () => {
    const t = new ExitUseTable();
    t.set('c', use('n3'), 1);
    t.set('a', use('n3'), 1);
    t.set('b', use('n4', 'exit node n3 is offline'), 1);
    t.set('d', use(null, 'exit node n3 is offline'), 1);
    t.set('e', use('n3'), 1);
    const online = (id: string) => id !== 'e';
    expect(t.usersOf('n3', online)).toEqual(['a', 'c']);
    expect(t.usersOf('n4', online)).toEqual(['b']);
    expect(t.usersOf('n9', online)).toEqual([]);
  });
});
