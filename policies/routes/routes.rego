# METADATA
# title: Trellis route auto-approval
# description: |
#   Which advertised routes the controller approves without an admin. Auto-approvers are data
#   (data.trellis.route_config.auto_approvers): a prefix -> the selectors allowed to advertise it or any
#   prefix inside it; "exit" -> the selectors allowed to be exit nodes. A route no rule approves waits
#   for `trellis routes approve`. Never approves a route of a quarantined node.
#     auto_approve: input {node: {id, name, user, groups, tags, quarantined?}, prefix, kind} -> {approved, reason}
package trellis.routes

auto_approvers := data.trellis.route_config.auto_approvers if {
	is_object(data.trellis.route_config.auto_approvers)
} else := {}

normalize_tag(t) := t if {
	startswith(t, "tag:")
} else := concat("", ["tag:", t])

# selects(s, n): selector s ("tag:x", "user:u", "group:g", "node:name" or "*") matches node n.
selects(s, _) if s == "*"

selects(s, n) if {
	startswith(s, "tag:")
	some t in object.get(n, "tags", [])
	normalize_tag(t) == s
}

selects(s, n) if {
	startswith(s, "user:")
	n.user == substring(s, 5, -1)
}

selects(s, n) if {
	startswith(s, "group:")
	some g in object.get(n, "groups", [])
	trim_prefix(g, "group:") == substring(s, 6, -1)
}

selects(s, n) if {
	startswith(s, "node:")
	substring(s, 5, -1) in {n.name, n.id}
}

# The approver entries (prefix, selector) that cover a subnet route.
subnet_matches contains [p, s] if {
	input.kind == "subnet"
	some p, selectors in auto_approvers
	p != "exit"
	net.cidr_contains(p, input.prefix)
	some s in selectors
	selects(s, input.node)
}

exit_matches contains s if {
	input.kind == "exit"
	some s in object.get(auto_approvers, "exit", [])
	selects(s, input.node)
}

quarantined if object.get(input.node, "quarantined", false) == true

default auto_approve := {"approved": false, "reason": "no auto-approver covers this route"}

auto_approve := {"approved": false, "reason": "the node is quarantined"} if {
	quarantined
} else := {"approved": true, "reason": sprintf("auto-approver %s: %s", [m[0], m[1]])} if {
	some m in subnet_matches
} else := {"approved": true, "reason": sprintf("auto-approver exit: %s", [s])} if {
	some s in exit_matches
}
