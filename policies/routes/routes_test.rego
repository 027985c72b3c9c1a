package trellis.routes_test

import data.trellis.routes

gw := {"id": "n2", "name": "gw-1", "user": null, "groups": [], "tags": ["tag:gateway"]}

alice := {"id": "n7", "name": "laptop", "user": "alice", "groups": ["ops"], "tags": []}

approvers := {"10.20.0.0/16": ["tag:gateway"], "192.168.0.0/16": ["group:ops"], "exit": ["node:gw-1"]}

test_no_approvers_leaves_routes_pending if {
	d := routes.auto_approve with input as {"node": gw, "prefix": "10.20.0.0/24", "kind": "subnet"}
	not d.approved
}

test_tag_approves_prefix_inside if {
	d := routes.auto_approve with input as {"node": gw, "prefix": "10.20.3.0/24", "kind": "subnet"}
		with data.trellis.route_config.auto_approvers as approvers
	d.approved
	contains(d.reason, "10.20.0.0/16")
}

test_wider_prefix_not_approved if {
	d := routes.auto_approve with input as {"node": gw, "prefix": "10.0.0.0/8", "kind": "subnet"}
		with data.trellis.route_config.auto_approvers as approvers
	not d.approved
}

test_other_node_not_approved if {
	d := routes.auto_approve with input as {"node": alice, "prefix": "10.20.3.0/24", "kind": "subnet"}
		with data.trellis.route_config.auto_approvers as approvers
	not d.approved
}

test_group_approves if {
	d := routes.auto_approve with input as {"node": alice, "prefix": "192.168.4.0/24", "kind": "subnet"}
		with data.trellis.route_config.auto_approvers as approvers
	d.approved
}

test_exit_by_node_name if {
	d := routes.auto_approve with input as {"node": gw, "prefix": "0.0.0.0/0", "kind": "exit"}
		with data.trellis.route_config.auto_approvers as approvers
	d.approved
	e := routes.auto_approve with input as {"node": alice, "prefix": "0.0.0.0/0", "kind": "exit"}
		with data.trellis.route_config.auto_approvers as approvers
	not e.approved
}

test_exit_needs_exit_entry if {
	d := routes.auto_approve with input as {"node": gw, "prefix": "::/0", "kind": "exit"}
		with data.trellis.route_config.auto_approvers as {"0.0.0.0/0": ["*"]}
	not d.approved
}

test_quarantined_never_approved if {
	q := object.union(gw, {"quarantined": true})
	d := routes.auto_approve with input as {"node": q, "prefix": "10.20.3.0/24", "kind": "subnet"}
		with data.trellis.route_config.auto_approvers as approvers
	not d.approved
	d.reason == "the node is quarantined"
}
