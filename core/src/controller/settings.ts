/** Controller settings kept in the store's meta table, so they survive restarts. */
import type { Store } from '../store/store';

/** "true" makes new nodes wait, with no peers, until `trellis nodes approve <name>`. */
export const SETTING_REQUIRE_APPROVAL = 'settings.requireApproval';

/** applyRequireApproval stores the flag when given (audited when it changes); undefined keeps the stored value. */
export async function applyRequireApproval(store: Store, value: boolean | undefined, at: number): Promise<boolean> {
  const stored = (await store.getMeta(SETTING_REQUIRE_APPROVAL)) === 'true';
  if (value === undefined || value === stored) return stored;
  await store.setMeta(SETTING_REQUIRE_APPROVAL, String(value), {
    at,
    action: 'settings.changed',
    actor: 'controller',
    details: { requireApproval: value },
  });
  return value;
}
