/**
 * AgentLink is the host-network side of the agent (interface state, addresses, routes, underlay
 * discovery). The default is wg/link.ts; tests pass a fake to run without touching the host.
 */
export interface AgentLink {
  setLinkUp(iface: string, mtu: number): Promise<unknown>;
  /** Make the interface carry exactly these addresses (CIDR form). */
  syncAddresses(iface: string, cidrs: string[]): Promise<unknown>;
  /** Make exactly these prefixes routed into the interface. */
  syncRoutes(iface: string, prefixes: string[]): Promise<unknown>;
  /** Install (spec) or remove (null) the policy routing of an exit node (wg/link.ts syncExitRouting). */
  syncExitRouting?(iface: string, spec: { table: number; fwmark: number; exclude: string[] } | null): Promise<unknown>;
  /** Host addresses usable as underlay endpoints, excluding the given interfaces. */
  listUnderlayAddresses(exclude: string[]): Promise<string[]>;
  /** The same addresses by interface, first interface first (its addresses are local candidates, the others' uplinks). */
  listUnderlayInterfaces?(exclude: string[]): Promise<Array<{ ifname: string; addresses: string[] }>>;
}
