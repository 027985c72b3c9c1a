import { PanelFactory } from '../panel-factory';
import { DASHBOARD_UIDS, nodeDetailUrl, trellisDashboard, type BuiltDashboard, type DashboardContext } from './dashboard-context';

/** Posture and access: compliance, non-compliant nodes with reasons, quarantines and denials. */
export function postureAccess({ sql }: DashboardContext): BuiltDashboard {
  const uid = DASHBOARD_UIDS.posture;
  const f = new PanelFactory(uid);
  const b = trellisDashboard(uid, 'Trellis / Posture and access', 'Posture compliance, quarantines and refused access.')
    .withVariable(f.variable({ name: 'node', label: 'Node', sql: sql.nodesVariable(), column: 'name', multi: true }))
    .withPanel(
      f.stat('Compliance', sql.compliance(), ['compliant_nodes', 'non_compliant_nodes'], {
        width: 8,
        steps: [
          { value: null, color: 'green' },
          { value: 1, color: 'red' },
        ],
      }),
    )
    .withPanel(f.timeSeries('Nodes by posture', sql.postureSeries(), ['time', 'series', 'nodes'], { width: 16 }))
    .withPanel(
      f.table('Non-compliant nodes', sql.nonCompliant(), ['node', 'reasons', 'policy_version', 'decided_at'], {
        width: 12,
        links: [{ title: 'Node detail: ${__data.fields.node}', url: nodeDetailUrl('${__data.fields.node}') }],
      }),
    )
    .withPanel(f.table('Quarantines', sql.quarantines(), ['time', 'node', 'details'], { width: 12, links: [{ title: 'Node detail: ${__data.fields.node}', url: nodeDetailUrl('${__data.fields.node}') }] }))
    .withPanel(f.table('Denied access', sql.denials(), ['time', 'action', 'actor', 'target', 'details'], { width: 24 }));
  return { uid, file: 'posture-access.json', dashboard: b.build(), queries: f.queries };
}
