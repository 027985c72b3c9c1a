# METADATA
# title: Trellis access policy
# description: |
#   Who may reach whom on the mesh. ACL rules are data (data.trellis.acls, or input.acls for a
#   one-off question), so a security team edits rules, not code. Default deny.
#   Three ways to ask:
#     decision: input {src, dst, proto, port} -> {allow, reasons}
#     grants:   input {nodes, groups?, tags?, users?, acls?} -> who sees whom, as products of nodes
#     netmap:   input {nodes, self, groups?, tags?, users?, acls?} -> {peers, packetFilter, quarantined}
#   See policies/README.md for the selector grammar and the entrypoints.
package trellis.access

# ---------------------------------------------------------------------------------------------
# The ACL document: input.acls wins over data.trellis.acls, so the controller may pass it per call.
# ---------------------------------------------------------------------------------------------

acls := input.acls if {
	is_object(input.acls)
} else := data.trellis.acls if {
	is_object(data.trellis.acls)
} else := {}

rules := object.get(acls, "rules", [])

# Group membership: group name (without "group:") -> user names. input.groups adds to acls.groups.
group_members := g if {
	# (the union with no input.groups, without copying the ACL's groups per evaluation)
	object.get(input, "groups", {}) == {}
	g := object.get(acls, "groups", {})
	is_object(g)
} else := object.union(object.get(acls, "groups", {}), object.get(input, "groups", {}))

# Central tag assignment: "tag:x" -> node names or ids that carry it besides their own tags.
tag_assignments := object.get(input, "tags", {})

# User directory: user name -> {groups: [...]}; an identity provider's view of the user.
user_directory := object.get(input, "users", {})

quarantine_config := object.get(acls, "quarantine", {})

quarantine_tags := {normalize_tag(t) | some t in object.get(quarantine_config, "tags", ["tag:quarantine"])}

remediation := object.get(quarantine_config, "remediation", [])

# ---------------------------------------------------------------------------------------------
# Principals: one shape for a node, whether it comes from input.nodes or from a decision's src/dst.
# ---------------------------------------------------------------------------------------------

strip_prefix(s, p) := substring(s, count(p), -1) if {
	startswith(s, p)
} else := s

# normalize_tag: "tag:" and the name; a tag already in that form is itself (no string building).
normalize_tag(t) := t if {
	startswith(t, "tag:")
} else := concat("", ["tag:", t])

normalize_group(g) := strip_prefix(g, "group:")

string_list(x) := [s | some s in x; is_string(s)] if is_array(x)

else := []

# user_groups: without a user directory (the usual decision) no empty set is built and joined.
user_groups(user) := member_groups(user) if {
	user_directory == {}
} else := member_groups(user) | {normalize_group(g) | some g in string_list(object.get(object.get(user_directory, user, {}), "groups", []))}

# member_groups: the groups whose members list user, looked up in principal_facts (built from the
# same group_members unless input.groups adds to them) rather than found by scanning every group's
# members. Only strings are indexed: another user is in no group when every member is a string.
member_groups(user) := {g | some g in object.get(principal_facts.groups_by_user, user, [])} if {
	is_string(user)
	object.get(input, "groups", {}) == {}
} else := set() if {
	object.get(input, "groups", {}) == {}
	principal_facts.string_members
} else := {g |
	some name, members in group_members
	user in members
	g := normalize_group(name)
}

# principal_facts: what principal() needs from the ACL document alone, read from the prepared
# decision index like decision_index, else computed.
principal_facts := data.trellis.access_index.principal_facts if {
	not is_object(object.get(input, "acls", null))
	is_object(data.trellis.access_index.principal_facts)
} else := build_principal_facts

build_principal_facts := {
	"groups_by_user": groups_by_user,
	"string_members": string_members,
	"quarantine_tags": {t: true | some t in quarantine_tags},
}

string_members if {
	every members in group_members {
		is_array(members)
		every m in members {
			is_string(m)
		}
	}
}

# groups_by_user: string member -> the groups (without "group:") that list it, sorted.
groups_by_user := {u: sort([g | some name, members in group_members; u in members; g := normalize_group(name)]) |
	some members in group_members
	some u in members
	is_string(u)
}

# with_assigned_tags: a node's own tags, plus those input.tags assigns it when there are any.
with_assigned_tags(own, id, name) := own if {
	tag_assignments == {}
} else := own | assigned_tags(id, name)

assigned_tags(id, name) := {normalize_tag(tag) |
	some tag, holders in tag_assignments
	some h in holders
	h in {id, name}
}

# principal builds the common shape from a node object (netmap mode) or a src/dst (decision mode).
principal(n) := p if {
	id := object.get(n, "id", object.get(n, "node", ""))
	name := object.get(n, "name", object.get(n, "node", id))
	user := object.get(n, "user", null)
	tags := with_assigned_tags({normalize_tag(t) | some t in string_list(object.get(n, "tags", []))}, id, name)
	groups := {normalize_group(g) | some g in string_list(object.get(n, "groups", []))} | user_groups(user)
	p := {
		"id": id,
		"name": name,
		"user": user,
		"groups": groups,
		"tags": tags,
		"ips": node_ips(n),
		"subnets": string_list(object.get(n, "subnets", [])),
		"quarantined": node_quarantined(n, tags),
	}
}

# node_ips: a decision's src or dst carries only ip (no addresses or ips), the common case kept short.
node_ips(n) := [ip | ip := object.get(n, "ip", ""); is_string(ip); ip != ""] if {
	is_object(n)
	not has_key(n, "addresses")
	not has_key(n, "ips")
} else := sort([ip |
	some ip in array.concat(
		[object.get(object.get(n, "addresses", {}), "ipv4", ""), object.get(object.get(n, "addresses", {}), "ipv6", "")],
		array.concat(string_list(object.get(n, "ips", [])), [object.get(n, "ip", "")]),
	)
	is_string(ip)
	ip != ""
])

# has_key: x has key k, whatever its value (false and null too).
has_key(x, k) if {
	_ = x[k]
}

node_quarantined(n, tags) if {
	object.get(n, "quarantined", false) == true
} else if {
	some t in tags
	principal_facts.quarantine_tags[t]
} else := false

# ---------------------------------------------------------------------------------------------
# Selectors: "*", "user:NAME" (or a bare "name@domain"), "group:NAME", "tag:NAME", "node:NAME-OR-ID",
# and an IP or CIDR ("10.20.0.0/16", "100.64.0.7").
# ---------------------------------------------------------------------------------------------

is_cidr_selector(s) if regex.match(`^[0-9.]+(/[0-9]{1,2})?$`, s)

is_cidr_selector(s) if {
	contains(s, ":")
	regex.match(`^[0-9a-fA-F:.]+(/[0-9]{1,3})?$`, s)
}

as_cidr(s) := s if {
	contains(s, "/")
} else := concat("", [s, "/128"]) if {
	contains(s, ":")
} else := concat("", [s, "/32"])

selector_kind(s) := "any" if {
	s == "*"
} else := "user" if {
	startswith(s, "user:")
} else := "user" if {
	contains(s, "@")
	not contains(s, ":")
} else := "group" if {
	startswith(s, "group:")
} else := "tag" if {
	startswith(s, "tag:")
} else := "node" if {
	startswith(s, "node:")
} else := "cidr" if {
	is_cidr_selector(s)
} else := "invalid"

# named_match: the selector names the principal itself (not a subnet behind it).
named_match(s, _) if selector_kind(s) == "any"

named_match(s, p) if {
	selector_kind(s) == "user"
	p.user != null
	p.user == strip_prefix(s, "user:")
}

named_match(s, p) if {
	selector_kind(s) == "group"
	normalize_group(s) in p.groups
}

named_match(s, p) if {
	selector_kind(s) == "tag"
	normalize_tag(s) in p.tags
}

named_match(s, p) if {
	selector_kind(s) == "node"
	strip_prefix(s, "node:") in {p.id, p.name}
}

# src_match: a selector matches a sending principal when it names it or holds one of its addresses.
src_match(s, p) if named_match(s, p)

src_match(s, p) if {
	selector_kind(s) == "cidr"
	some ip in p.ips
	net.cidr_contains(as_cidr(s), ip)
}

# ---------------------------------------------------------------------------------------------
# Rules: validation and parsing. An invalid rule never matches (fail closed) and is listed in errors.
# ---------------------------------------------------------------------------------------------

valid_protos := {"tcp", "udp", "icmp", "any"}

rule_proto(r) := object.get(r, "proto", "any")

rule_ports(r) := object.get(r, "ports", ["*"])

rule_label(i, r) := r.name if {
	is_string(r.name)
} else := concat("", ["#", format_int(i + 1, 10)])

port_number_ok(s) if {
	regex.match(`^[0-9]{1,5}$`, s)
	to_number(s) <= 65535
}

# port_range parses one ports entry into [from, to]; "*" is [0, 65535].
port_range(p) := [0, 65535] if {
	p == "*"
} else := [p, p] if {
	is_number(p)
	p == floor(p)
	p >= 0
	p <= 65535
} else := [to_number(p), to_number(p)] if {
	is_string(p)
	port_number_ok(p)
} else := [lo, hi] if {
	is_string(p)
	parts := split(p, "-")
	count(parts) == 2
	port_number_ok(parts[0])
	port_number_ok(parts[1])
	lo := to_number(parts[0])
	hi := to_number(parts[1])
	lo <= hi
}

rule_errors(i, r) := {concat("", ["rule #", format_int(i + 1, 10), ": must be an object with src, dst, proto and ports"])} if {
	not is_object(r)
} else := ((proto_errors(i, r) | port_errors(i, r)) | selector_errors(i, r, "src")) | selector_errors(i, r, "dst")

proto_errors(i, r) := {concat("", ["rule ", rule_label(i, r), ": proto ", json.marshal(rule_proto(r)), " is not one of tcp, udp, icmp, any"]) |
	not rule_proto(r) in valid_protos
}

port_errors(i, r) := {concat("", ["rule ", rule_label(i, r), ": ports must be a non-empty list"]) |
	not non_empty_array(rule_ports(r))
} | {concat("", ["rule ", rule_label(i, r), ": port ", json.marshal(p), " is not a port, a range like 1000-2000, or *"]) |
	non_empty_array(rule_ports(r))
	some p in rule_ports(r)
	not port_range(p)
}

selector_errors(i, r, side) := {concat("", ["rule ", rule_label(i, r), ": ", side, " must be a non-empty list of selectors"]) |
	not non_empty_array(object.get(r, side, null))
} | {concat("", ["rule ", rule_label(i, r), ": ", side, " selector ", json.marshal(s), " is not *, user:, group:, tag:, node:, an IP or a CIDR"]) |
	non_empty_array(object.get(r, side, null))
	some s in r[side]
	not valid_selector(s)
}

non_empty_array(x) if {
	is_array(x)
	count(x) > 0
}

valid_selector(s) if {
	is_string(s)
	selector_kind(s) != "invalid"
}

remediation_errors := {concat("", ["quarantine.remediation selector ", json.marshal(s), " is not valid"]) |
	some s in remediation
	not valid_selector(s)
}

# errors lists every problem in the ACL document; rules named here are ignored until fixed.
errors := sort([msg |
	some msg in ({msg |
		some i, r in rules
		some msg in rule_errors(i, r)
	} | remediation_errors)
])

valid_rule(i, r) if {
	is_object(r)
	count(rule_errors(i, r)) == 0
}

proto_match(rule_p, _) if rule_p == "any"

proto_match(rule_p, p) if rule_p == p

port_match(_, _, proto) if proto == "icmp"

port_match(r, port, proto) if {
	proto != "icmp"
	some p in rule_ports(r)
	[lo, hi] := port_range(p)
	is_number(port)
	lo <= port
	port <= hi
}

port_match(r, port, proto) if {
	proto != "icmp"
	not is_number(port)
	"*" in rule_ports(r)
}

dst_ports(r) := [] if {
	"*" in rule_ports(r)
} else := sort([port_range(p) | some p in rule_ports(r)]) if {
	rule_proto(r) != "icmp"
} else := []

# remediates: p is in the remediation group, as a sender.
remediates(p) if {
	some s in remediation
	valid_selector(s)
	src_match(s, p)
}

# remediation_dst: some address of node p is in the remediation group, as a destination.
remediation_dst(p) if {
	some s in remediation
	valid_selector(s)
	count(dst_addrs(s, p)) > 0
}

# ---------------------------------------------------------------------------------------------
# (b) Single decisions: input {src: {node, user, groups, tags, ip, quarantined?},
#     dst: {node, user, tags, ip, subnets, quarantined?}, proto, port}.
# ---------------------------------------------------------------------------------------------

decision_src := principal(input.src)

decision_dst := principal(input.dst)

decision_proto := object.get(input, "proto", "any")

decision_port := object.get(input, "port", null)

# dst_ip_is_subnet: the packet goes to a subnet behind dst, not to dst itself.
dst_ip_is_subnet if {
	some subnet in decision_dst.subnets
	net.cidr_contains(as_cidr(subnet), input.dst.ip)
}

# decision_dst_match: named selectors reach dst's own address; CIDR selectors reach any address in them.
decision_dst_match(s) if {
	not dst_ip_is_subnet
	named_match(s, decision_dst)
}

decision_dst_match(s) if {
	selector_kind(s) == "cidr"
	is_string(input.dst.ip)
	net.cidr_contains(as_cidr(s), input.dst.ip)
}

# "*" is any destination: also the hosts behind a gateway's approved routes.
decision_dst_match(s) if {
	selector_kind(s) == "any"
	dst_ip_is_subnet
}

# matched_labels looks up only the rules whose src can match decision_src (decision_index), so a
# decision costs the rules that name the source, not every rule. One body per kind of selector,
# looked up by the source's own user, groups, tags, id and name: no selector keys are built per
# decision (principal_keys spells them out; that costs more than the lookups).
matched_labels contains info.label if {
	idx := decision_index
	some j in idx.src_any
	info := idx.rules[j]
	decision_rule_matches(info)
}

matched_labels contains info.label if {
	idx := decision_index
	is_string(decision_src.user)
	some j in object.get(idx.src_user, decision_src.user, [])
	info := idx.rules[j]
	decision_rule_matches(info)
}

matched_labels contains info.label if {
	idx := decision_index
	some g in decision_src.groups
	some j in object.get(idx.src_group, g, [])
	info := idx.rules[j]
	decision_rule_matches(info)
}

matched_labels contains info.label if {
	idx := decision_index
	some t in decision_src.tags
	some j in object.get(idx.src_tag, t, [])
	info := idx.rules[j]
	decision_rule_matches(info)
}

matched_labels contains info.label if {
	idx := decision_index
	some x in [decision_src.id, decision_src.name]
	is_string(x)
	some j in object.get(idx.src_node, x, [])
	info := idx.rules[j]
	decision_rule_matches(info)
}

# (each distinct CIDR once per address, however many rules name it, without collecting a set)
matched_labels contains info.label if {
	idx := decision_index
	some cidr, js in idx.src_cidr_rules
	some ip in decision_src.ips
	net.cidr_contains(cidr, ip)
	some j in js
	info := idx.rules[j]
	decision_rule_matches(info)
}

# decision_rule_matches: the rule (whose src matches decision_src) allows the proto and port and
# reaches decision_dst. Rules are looked up per source key, without first collecting their
# positions in a set: a rule named by two of the source's keys is checked twice, which costs less.
decision_rule_matches(info) if {
	proto_match(info.proto, decision_proto)
	indexed_port_match(info, decision_port, decision_proto)
	reaches_decision_dst(info)
}

# reaches_decision_dst: some dst selector of the (indexed) rule matches decision_dst, as
# decision_dst_match says: a named selector by its name among decision_dst's (the rule's named
# selectors are kept by kind), a CIDR one by address.
reaches_decision_dst(info) if {
	not dst_ip_is_subnet
	reaches_decision_dst_named(info)
}

reaches_decision_dst(info) if {
	is_string(input.dst.ip)
	some c in info.dst_cidrs
	net.cidr_contains(c, input.dst.ip)
}

reaches_decision_dst(info) if {
	dst_ip_is_subnet
	info.dst_named.any
}

reaches_decision_dst_named(info) if info.dst_named.any

reaches_decision_dst_named(info) if {
	some t in info.dst_named.tag
	t in decision_dst.tags
}

reaches_decision_dst_named(info) if {
	some g in info.dst_named.group
	g in decision_dst.groups
}

reaches_decision_dst_named(info) if {
	some u in info.dst_named.user
	decision_dst.user == u
}

reaches_decision_dst_named(info) if {
	some x in info.dst_named.node
	x in [decision_dst.id, decision_dst.name]
}

# decision_index: the valid rules, parsed once, their positions by source and destination selector,
# and what principal() reads from the ACL document (principal_facts). It depends
# on the ACL document only; a host that evaluates many decisions under one data document may
# evaluate it once and store the result at data.trellis.access_index (the controller's evaluator
# does, at setData time). input.acls always gets a fresh index.
decision_index := data.trellis.access_index if {
	# (`not is_object(input.acls)` is never true in a rule body when input.acls is undefined.)
	not is_object(object.get(input, "acls", null))
	is_object(data.trellis.access_index)
} else := build_decision_index

build_decision_index := {
	"rules": decision_rules,
	"src": {k: sort([j | some j, info in decision_rules; some s in info.src; selector_key(s) == k]) |
		some info in decision_rules
		some s in info.src
		k := selector_key(s)
	},
	"src_cidrs": [{"cidr": as_cidr(s), "rule": j} |
		some j, info in decision_rules
		some s in info.src
		selector_kind(s) == "cidr"
	],
	"dst": {k: sort([j | some j, info in decision_rules; some s in info.dst; selector_key(s) == k]) |
		some info in decision_rules
		some s in info.dst
		k := selector_key(s)
	},
	"dst_cidr_rules": [j |
		some j, info in decision_rules
		some s in info.dst
		selector_kind(s) == "cidr"
	],
	"src_cidr_rules": {c: sort([j | some j, info in decision_rules; some s in info.src; selector_kind(s) == "cidr"; as_cidr(s) == c]) |
		some info in decision_rules
		some s in info.src
		selector_kind(s) == "cidr"
		c := as_cidr(s)
	},
	"src_any": [j | some j, info in decision_rules; some s in info.src; selector_kind(s) == "any"],
	"src_user": src_positions("user"),
	"src_group": src_positions("group"),
	"src_tag": src_positions("tag"),
	"src_node": src_positions("node"),
	"principal_facts": build_principal_facts,
}

# src_positions(kind): for the named selectors of one kind, the name they match (selector_name)
# -> the positions of the rules with that selector in src.
src_positions(kind) := {name: sort([j |
	some j, info in decision_rules
	some s in info.src
	selector_kind(s) == kind
	selector_name(s) == name
]) |
	some info in decision_rules
	some s in info.src
	selector_kind(s) == kind
	name := selector_name(s)
}

# selector_name: what a named selector matches: a user name, a group name (without "group:"), a tag
# ("tag:" and the name), or a node name or id; selector_key is its kind and this.
selector_name(s) := strip_prefix(s, "user:") if {
	selector_kind(s) == "user"
} else := normalize_group(s) if {
	selector_kind(s) == "group"
} else := normalize_tag(s) if {
	selector_kind(s) == "tag"
} else := strip_prefix(s, "node:") if {
	selector_kind(s) == "node"
}

decision_rules := [info |
	some i, r in rules
	valid_rule(i, r)
	info := {
		"label": rule_label(i, r),
		"proto": rule_proto(r),
		"ranges": [port_range(p) | some p in rule_ports(r)],
		"star": "*" in rule_ports(r),
		"src": r.src,
		"dst": r.dst,
		"dst_keys": [k | some d in r.dst; k := selector_key(d)],
		"dst_named": {
			"any": "*" in r.dst,
			"user": [selector_name(d) | some d in r.dst; selector_kind(d) == "user"],
			"group": [selector_name(d) | some d in r.dst; selector_kind(d) == "group"],
			"tag": [selector_name(d) | some d in r.dst; selector_kind(d) == "tag"],
			"node": [selector_name(d) | some d in r.dst; selector_kind(d) == "node"],
		},
		"dst_cidrs": [as_cidr(d) | some d in r.dst; selector_kind(d) == "cidr"],
	}
]

# selector_key: the index key of a named selector: "*", or "user:", "group:", "tag:", "node:" and
# the name it matches (undefined for CIDRs, which are checked one by one).
selector_key(s) := "*" if {
	selector_kind(s) == "any"
} else := concat("", ["user:", strip_prefix(s, "user:")]) if {
	selector_kind(s) == "user"
} else := concat("", ["group:", normalize_group(s)]) if {
	selector_kind(s) == "group"
} else := normalize_tag(s) if {
	selector_kind(s) == "tag"
} else := concat("", ["node:", strip_prefix(s, "node:")]) if {
	selector_kind(s) == "node"
}

# principal_keys: the selector keys that name p (named_match, as an index lookup).
# An array (a key may repeat when id and name are equal): lookups need no set, and arrays cost
# less to build than sets in the wasm target.
principal_keys(p) := array.concat(
	array.concat(["*"], [concat("", ["user:", p.user]) | is_string(p.user)]),
	array.concat(
		[concat("", ["group:", g]) | some g in p.groups],
		array.concat([t | some t in p.tags], [concat("", ["node:", x]) | some x in [p.id, p.name]; is_string(x)]),
	),
)

indexed_port_match(_, _, proto) if proto == "icmp"

indexed_port_match(info, port, proto) if {
	proto != "icmp"
	is_number(port)
	some [lo, hi] in info.ranges
	lo <= port
	port <= hi
}

indexed_port_match(info, port, proto) if {
	proto != "icmp"
	not is_number(port)
	info.star
}

remediation_path if {
	decision_src.quarantined
	some s in remediation
	valid_selector(s)
	decision_dst_match(s)
}

remediation_path if {
	decision_dst.quarantined
	remediates(decision_src)
}

quarantine_involved if decision_src.quarantined

quarantine_involved if decision_dst.quarantined

decision_valid if {
	is_object(input.src)
	is_object(input.dst)
	decision_protos[decision_proto]
}

# decision_protos: the protos a decision may name (an object rule: a set literal is built again on
# every evaluation).
decision_protos := {"tcp": true, "udp": true, "icmp": true}

default allow := false

allow if {
	decision_valid
	not quarantine_involved
	count(matched_labels) > 0
}

allow if {
	decision_valid
	remediation_path
}

describe(p, ip) := concat("", [p.name, " (", ip, ")"]) if {
	p.name != ""
	is_string(ip)
} else := p.name if {
	p.name != ""
} else := ip if {
	is_string(ip)
} else := "unknown"

flow := concat("", [
	describe(decision_src, object.get(input.src, "ip", null)), " -> ",
	describe(decision_dst, object.get(input.dst, "ip", null)), " ",
	decision_proto, port_suffix,
])

port_suffix := concat("", ["/", format_int(decision_port, 10)]) if {
	decision_proto != "icmp"
	is_number(decision_port)
} else := ""

remediation_list := concat(", ", remediation) if {
	count(remediation) > 0
} else := "no remediation group (none is configured)"

reasons := [concat("", ["input must have src and dst objects and proto tcp, udp or icmp; got proto ", json.marshal(decision_proto)])] if {
	not decision_valid
} else := [concat("", [flow, " allowed: quarantined source may reach remediation ", remediation_list])] if {
	remediation_path
	decision_src.quarantined
} else := [concat("", [flow, " allowed: remediation may reach quarantined destination"])] if {
	remediation_path
} else := [concat("", [flow, " denied: source ", decision_src.name, " is quarantined and may only reach ", remediation_list])] if {
	decision_src.quarantined
} else := [concat("", [flow, " denied: destination ", decision_dst.name, " is quarantined and only remediation may reach it"])] if {
	decision_dst.quarantined
} else := [concat("", [flow, " allowed by rule ", l]) | some l in sort([x | some x in matched_labels])] if {
	count(matched_labels) > 0
} else := [concat("", [flow, " denied: no rule allows it (default deny)"])]

decision := {"allow": allow, "reasons": reasons}

# ---------------------------------------------------------------------------------------------
# (a) Network maps: input {nodes: [{id, name, user, tags, groups?, addresses: {ipv4, ipv6},
#     subnets?, quarantined?}], self: node id}. Peers are the nodes self may reach or be reached by;
#     packetFilter is what self accepts (inbound), in core's FilterRule shape plus dstIps.
# ---------------------------------------------------------------------------------------------

# principals: nodes by id; a node whose id is missing or not unique is left out (and listed in node_errors).
principals := {p.id: p |
	dups := duplicate_ids
	some n in input.nodes
	unique_id(n, dups)
	p := principal(n)
}

# duplicate_ids: empty unless two nodes share an id (checked with one pass before the pairwise scan).
duplicate_ids := set() if {
	ids := [n.id | some n in input.nodes]
	count(ids) == count({x | some x in ids})
} else := {id |
	some i, n in input.nodes
	some j, m in input.nodes
	i < j
	id := n.id
	m.id == id
}

unique_id(n, dups) if {
	is_string(n.id)
	n.id != ""
	not n.id in dups
}

node_errors := sort([concat("", ["node ", json.marshal(object.get(n, "id", null)), " needs a unique, non-empty string id; it is left out of every map"]) |
	dups := duplicate_ids
	some n in input.nodes
	not unique_id(n, dups)
])

# dst_addrs: the addresses of node p a dst selector reaches ("" when none). "*" reaches its routed
# subnets too; other named selectors only its own addresses.
dst_addrs(s, p) := ({a |
	named_match(s, p)
	some a in p.ips
} | {a |
	selector_kind(s) == "any"
	some a in p.subnets
} | {a |
	selector_kind(s) == "cidr"
	some a in array.concat(p.ips, p.subnets)
	net.cidr_contains(as_cidr(s), a)
}) | {as_cidr(s) |
	selector_kind(s) == "cidr"
	some subnet in p.subnets
	net.cidr_contains(as_cidr(subnet), as_cidr(s))
}

# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
# Grants: access for a set of nodes as a list of grants, each a product of sources x destinations.
# The controller only expands the products (core's AccessIndex); every membership is decided here.
#   a and b (a != b) are peers when some grant has one of them as a source (named, or by a prefix
#   holding its address) and the other as a destination (either way round).
#   A destination's packet filter has one entry per grant with sources: srcIps are the addresses of
#   the grant's named sources plus its src_prefixes (sorted, no repeats), dstIps the destination's
#   own addresses (sorted) or the addresses its pair names, proto and dstPorts the grant's.
# The grants are the valid rules, in decision_index.rules order (a quarantined node is in none),
# then the two quarantine paths (any proto, any port): quarantined nodes reach the remediation
# destinations, and the remediation sources reach quarantined nodes.
# Every pair depends on one node and the ACL document only, so grants over some of the nodes are
# exactly their pairs of grants over all of them.
# ---------------------------------------------------------------------------------------------

# grants: input {nodes} -> {grants: [{label, proto, ports, src_prefixes}], src: [[g, id]],
# src_prefix: [[g, id]], dst: [[g, id] | [g, id, addrs]]}. [g, id] in dst reaches the node's own
# addresses, [g, id, addrs] only addrs (a CIDR destination). Pairs are arrays, not sets (a pair may
# repeat): a set would hash every pair, most of the cost on a large mesh.
grants := {
	"grants": grant_list,
	"src": array.concat(rule_src_pairs, quarantine_src_pairs),
	"src_prefix": rule_src_prefix_pairs,
	"dst": array.concat(rule_dst_pairs, quarantine_dst_pairs),
}

# quarantine_grant and remediation_grant: the positions of the two quarantine paths in grant_list.
quarantine_grant := count(decision_index.rules)

remediation_grant := quarantine_grant + 1

grant_list := array.concat(
	[{"label": info.label, "proto": info.proto, "ports": indexed_dst_ports(info), "src_prefixes": [as_cidr(s) | some s in info.src; selector_kind(s) == "cidr"]} |
		some info in decision_index.rules
	],
	[
		{"label": "quarantine: quarantined nodes reach remediation", "proto": "any", "ports": [], "src_prefixes": []},
		{"label": "quarantine: remediation reaches quarantined nodes", "proto": "any", "ports": [], "src_prefixes": []},
	],
)

# rule_src_pairs: [rule, node] for every named source match, found by looking the node's own
# selector keys up in decision_index: nodes x (keys + matches), not rules x nodes.
rule_src_pairs := [[j, id] |
	idx := decision_index
	some id, p in principals
	not p.quarantined
	some k in principal_keys(p)
	some j in object.get(idx.src, k, [])
]

# rule_src_prefix_pairs: [rule, node] when a CIDR source of the rule holds an address of the node.
rule_src_prefix_pairs := [[c.rule, id] |
	some c in decision_index.src_cidrs
	some id, p in principals
	not p.quarantined
	some ip in p.ips
	net.cidr_contains(c.cidr, ip)
]

rule_dst_pairs := array.concat(
	[pair |
		idx := decision_index
		some id, p in principals
		not p.quarantined
		some k in principal_keys(p)
		some j in object.get(idx.dst, k, [])
		pair := dst_pair(idx, j, id, p)
	],
	[[j, id, addrs] |
		idx := decision_index
		some j in idx.dst_cidr_rules
		some id, p in principals
		not p.quarantined
		addrs := pair_dst_addrs(idx, j, p)
		count(addrs) > 0
	],
)

quarantine_src_pairs := array.concat(
	[[quarantine_grant, id] | some id, p in principals; p.quarantined],
	[[remediation_grant, id] | some id, p in principals; remediates(p)],
)

quarantine_dst_pairs := array.concat(
	[[quarantine_grant, id] | some id, p in principals; remediation_dst(p)],
	[[remediation_grant, id] | some id, p in principals; p.quarantined],
)

# dst_pair: a rule with a CIDR destination may reach only some of a node's addresses, so its pair
# names them; any other reaches the node's own addresses.
dst_pair(idx, j, id, p) := [j, id] if {
	not j in idx.dst_cidr_rules
	not star_reaches_routes(idx, j, p)
} else := [j, id, pair_dst_addrs(idx, j, p)]

# star_reaches_routes: rule j names "*" as a destination and p routes subnets, so the pair names
# p's addresses and its subnets.
star_reaches_routes(idx, j, p) if {
	count(p.subnets) > 0
	"*" in idx.rules[j].dst
}

# pair_dst_addrs: the addresses of node p that rule j's destinations reach.
pair_dst_addrs(idx, j, p) := sort([a | some a in {a | some d in idx.rules[j].dst; some a in dst_addrs(d, p)}])

indexed_dst_ports(info) := [] if {
	info.star
} else := sort(info.ranges) if {
	info.proto != "icmp"
} else := []

# ---------------------------------------------------------------------------------------------
# node_reads: what grants reads of a node (contract node-classes/v2). Nodes alike in all of it get
# the same grants, so the controller evaluates grants over one node per class of alike nodes and
# gives every member its representative's grants (with the member's own addresses where a pair
# names addresses). A node is read through:
#   - its user, when listed in users (user selectors, members of ACL groups, the user directory);
#   - the groups and tags it carries that are listed (both spellings, "group:x" and "x", "tag:x"
#     and "x", as a node may carry either);
#   - whether it is quarantined;
#   - its id or name, when listed in nodes (node selectors, central tag holders);
#   - which of the listed prefixes hold each of its addresses (CIDR selectors).
# Its addresses and id otherwise only appear in the output. A policy that reads nodes any other way
# must drop this rule (the controller then evaluates grants over every node).
# ---------------------------------------------------------------------------------------------

node_reads := {
	"contract": "node-classes/v2",
	"users": sort([u | some u in read_users]),
	"groups": sort([g | some g in read_groups]),
	"tags": sort([t | some t in read_tags]),
	"nodes": sort([n | some n in read_nodes]),
	"prefixes": sort([c | some c in read_prefixes]),
}

# read_selectors: the selectors that can match a node: those of valid rules and of remediation.
read_selectors := {s | some info in decision_index.rules; some s in array.concat(info.src, info.dst)} | {s | some s in remediation; valid_selector(s)}

read_users := ({selector_name(s) | some s in read_selectors; selector_kind(s) == "user"} | {m |
	some members in group_members
	some m in string_list(members)
}) | {u | some u, _ in user_directory}

read_groups := {x |
	some s in read_selectors
	selector_kind(s) == "group"
	g := selector_name(s)
	some x in [g, concat("", ["group:", g])]
}

read_tags := {x |
	some t in ({selector_name(s) | some s in read_selectors; selector_kind(s) == "tag"} | quarantine_tags)
	some x in [t, strip_prefix(t, "tag:")]
}

read_nodes := {selector_name(s) | some s in read_selectors; selector_kind(s) == "node"} | {h |
	some _, holders in tag_assignments
	some h in string_list(holders)
}

read_prefixes := {as_cidr(s) | some s in read_selectors; selector_kind(s) == "cidr"}

# ---------------------------------------------------------------------------------------------
# (a) Network maps, the expansion of grants with exactly the semantics above: netmaps for every
# node, netmap for input.self. They are the reference the controller's expansion is tested against.
# Input {nodes: [{id, name, user, tags, groups?, addresses: {ipv4, ipv6}, subnets?, quarantined?}],
# self?}. Peers: the nodes self reaches or is reached by, on any port; packetFilter: what self
# accepts (inbound), in core's FilterRule shape with dstIps.
# ---------------------------------------------------------------------------------------------

netmaps := {id: netmap_of(idx, id) | idx := grant_index; some id, _ in principals}

netmap := netmap_of(grant_index, input.self) if principals[input.self]

# grant_index: per grant, its sources (named or by prefix), its srcIps, and its destinations with
# the addresses each is reached at.
grant_index := [{
	"sources": {pr[1] | some pr in array.concat(g.src, g.src_prefix); pr[0] == j},
	"src_ips": sort([ip | some ip in ({ip | some pr in g.src; pr[0] == j; some ip in principals[pr[1]].ips} | {c | some c in gr.src_prefixes})]),
	"dst": {id: sort([a | some a in {a | some pr in g.dst; pr[0] == j; pr[1] == id; some a in pair_addrs(pr)}]) |
		some pr in g.dst
		pr[0] == j
		id := pr[1]
	},
	"proto": gr.proto,
	"ports": gr.ports,
} |
	g := grants
	some j, gr in g.grants
]

pair_addrs(pr) := principals[pr[1]].ips if {
	count(pr) == 2
} else := pr[2]

netmap_of(idx, me) := {
	"node": me,
	"quarantined": principals[me].quarantined,
	"peers": sort([b |
		some b in ({b | some x in idx; me in x.sources; some b, _ in x.dst} | {a | some x in idx; x.dst[me]; some a in x.sources})
		b != me
	]),
	"packetFilter": sort([f |
		some f in {f |
			some x in idx
			dst_ips := x.dst[me]
			count(x.src_ips) > 0
			f := {"srcIps": x.src_ips, "dstIps": dst_ips, "proto": x.proto, "dstPorts": x.ports}
		}
	]),
}
