package trellis.access_test

import data.trellis.access

# A small tailnet: two engineers' laptops, a database, a web server, a subnet router, a CI runner,
# a quarantined laptop and a remediation server.
acls_fixture := {
	"groups": {"eng": ["alice", "bob"], "remediation": ["ops"]},
	"rules": [
		{"name": "eng-ssh", "src": ["group:eng"], "dst": ["tag:server"], "proto": "tcp", "ports": ["22"]},
		{"name": "eng-db", "src": ["group:eng"], "dst": ["tag:db"], "proto": "tcp", "ports": ["5432", "6000-6010"]},
		{"src": ["tag:ci"], "dst": ["node:web-1"], "proto": "any", "ports": ["*"]},
		{"name": "lan", "src": ["user:alice"], "dst": ["10.20.0.0/16"], "proto": "udp", "ports": [53]},
		{"name": "ping", "src": ["*"], "dst": ["tag:server"], "proto": "icmp"},
		{"name": "from-subnet", "src": ["100.64.0.0/24"], "dst": ["node:db-1"], "proto": "tcp", "ports": ["9000"]},
	],
	"quarantine": {"tags": ["tag:quarantine"], "remediation": ["group:remediation"]},
}

nodes_fixture := [
	{"id": "n1", "name": "alice-laptop", "user": "alice", "tags": [], "addresses": {"ipv4": "100.64.0.1", "ipv6": "fd7a::1"}},
	{"id": "n2", "name": "bob-laptop", "user": "bob", "tags": [], "addresses": {"ipv4": "100.64.0.2", "ipv6": "fd7a::2"}},
	{"id": "n3", "name": "db-1", "user": null, "tags": ["tag:db", "tag:server"], "addresses": {"ipv4": "100.64.1.3", "ipv6": "fd7a::3"}},
	{"id": "n4", "name": "web-1", "user": null, "tags": ["server"], "addresses": {"ipv4": "100.64.1.4", "ipv6": "fd7a::4"}},
	{"id": "n5", "name": "router", "user": null, "tags": [], "addresses": {"ipv4": "100.64.1.5", "ipv6": "fd7a::5"}, "subnets": ["10.20.0.0/16"]},
	{"id": "n6", "name": "ci", "user": null, "tags": ["tag:ci"], "addresses": {"ipv4": "100.64.1.6", "ipv6": "fd7a::6"}},
	{"id": "n7", "name": "carol-laptop", "user": "carol", "tags": ["tag:quarantine"], "addresses": {"ipv4": "100.64.0.7", "ipv6": "fd7a::7"}},
	{"id": "n8", "name": "fixer", "user": "ops", "tags": [], "addresses": {"ipv4": "100.64.1.8", "ipv6": "fd7a::8"}},
]

alice := {"node": "alice-laptop", "user": "alice", "groups": [], "tags": [], "ip": "100.64.0.1"}

bob := {"node": "bob-laptop", "user": "bob", "groups": [], "tags": [], "ip": "100.64.0.2"}

carol := {"node": "carol-laptop", "user": "carol", "groups": [], "tags": ["tag:quarantine"], "ip": "100.64.0.7"}

db := {"node": "db-1", "user": null, "tags": ["tag:db", "tag:server"], "ip": "100.64.1.3", "subnets": []}

web := {"node": "web-1", "user": null, "tags": ["tag:server"], "ip": "100.64.1.4", "subnets": []}

fixer := {"node": "fixer", "user": "ops", "groups": [], "tags": [], "ip": "100.64.1.8", "subnets": []}

ci := {"node": "ci", "user": null, "groups": [], "tags": ["tag:ci"], "ip": "100.64.1.6"}

ask(src, dst, proto, port) := d if {
	d := access.decision with input as {"src": src, "dst": dst, "proto": proto, "port": port}
		with data.trellis.acls as acls_fixture
}

# --- decisions: allow ---------------------------------------------------------------------------

test_group_member_reaches_tagged_server if {
	d := ask(alice, web, "tcp", 22)
	d.allow
	d.reasons == ["alice-laptop (100.64.0.1) -> web-1 (100.64.1.4) tcp/22 allowed by rule eng-ssh"]
}

test_every_matching_rule_is_a_reason if {
	d := ask(bob, db, "tcp", 22)
	d.allow
	d.reasons == ["bob-laptop (100.64.0.2) -> db-1 (100.64.1.3) tcp/22 allowed by rule eng-ssh"]
}

test_port_range_inclusive_edges if {
	ask(alice, db, "tcp", 6000).allow
	ask(alice, db, "tcp", 6010).allow
	ask(alice, db, "tcp", 6005).allow
	not ask(alice, db, "tcp", 5999).allow
	not ask(alice, db, "tcp", 6011).allow
}

test_wildcard_ports_and_any_proto if {
	ask(ci, web, "tcp", 1).allow
	ask(ci, web, "udp", 65535).allow
	ask(ci, web, "icmp", null).allow
	not ask(ci, db, "tcp", 5432).allow
}

test_icmp_ignores_ports if {
	ask(bob, db, "icmp", null).allow
	ask(carol, web, "icmp", null).allow == false
}

test_numeric_port_entries if {
	lan := {"node": "router", "tags": [], "ip": "10.20.3.4", "subnets": ["10.20.0.0/16"]}
	ask(alice, lan, "udp", 53).allow
	not ask(alice, lan, "tcp", 53).allow
	not ask(bob, lan, "udp", 53).allow
}

test_cidr_source if {
	ask({"node": "x", "ip": "100.64.0.9", "tags": []}, db, "tcp", 9000).allow
	not ask({"node": "x", "ip": "100.64.2.9", "tags": []}, db, "tcp", 9000).allow
}

test_groups_from_input_and_directory if {
	dave := {"node": "dave-laptop", "user": "dave", "groups": ["group:eng"], "tags": [], "ip": "100.64.0.10"}
	ask(dave, web, "tcp", 22).allow
	erin := {"node": "erin-laptop", "user": "erin", "tags": [], "ip": "100.64.0.11"}
	access.allow with input as {"src": erin, "dst": web, "proto": "tcp", "port": 22, "users": {"erin": {"groups": ["eng"]}}}
		with data.trellis.acls as acls_fixture
	not ask(erin, web, "tcp", 22).allow
}

test_named_selector_does_not_reach_subnet_behind_node if {
	behind := {"node": "web-1", "tags": ["tag:server"], "ip": "10.30.0.5", "subnets": ["10.30.0.0/16"]}
	not ask(alice, behind, "tcp", 22).allow
}

test_input_acls_override_data if {
	acls := {"rules": [{"src": ["*"], "dst": ["*"], "proto": "any", "ports": ["*"]}]}
	access.allow with input as {"src": web, "dst": bob, "proto": "tcp", "port": 80, "acls": acls}
		with data.trellis.acls as acls_fixture
	not access.allow with input as {"src": web, "dst": bob, "proto": "tcp", "port": 80}
		with data.trellis.acls as acls_fixture
	access.allow with input as {"src": bob, "dst": alice, "proto": "udp", "port": 7, "acls": acls}
}

# --- decisions: deny ----------------------------------------------------------------------------

test_default_deny_without_rules if {
	d := access.decision with input as {"src": alice, "dst": web, "proto": "tcp", "port": 22}
		with data.trellis.acls as {}
	d.allow == false
	d.reasons == ["alice-laptop (100.64.0.1) -> web-1 (100.64.1.4) tcp/22 denied: no rule allows it (default deny)"]
}

test_wrong_port_and_proto_denied if {
	not ask(alice, web, "tcp", 23).allow
	not ask(alice, web, "udp", 22).allow
	not ask(web, alice, "tcp", 22).allow
}

test_malformed_decision_input_denied if {
	d := access.decision with input as {"src": alice, "dst": web, "proto": "sctp", "port": 22}
		with data.trellis.acls as acls_fixture
	d.allow == false
	d.reasons == [`input must have src and dst objects and proto tcp, udp or icmp; got proto "sctp"`]
	not access.allow with input as {"dst": web, "proto": "tcp", "port": 22} with data.trellis.acls as acls_fixture
}

test_invalid_rules_never_match_and_are_reported if {
	bad := {"rules": [
		{"src": ["group:eng"], "dst": ["tag:server"], "proto": "tcp", "ports": ["22", "70000"]},
		{"name": "rev", "src": ["group:eng"], "dst": ["tag:server"], "proto": "tcp", "ports": ["30-20"]},
		{"name": "p", "src": ["group:eng"], "dst": ["tag:server"], "proto": "gre", "ports": ["*"]},
		{"name": "s", "src": ["role:x"], "dst": [], "proto": "tcp", "ports": ["*"]},
		"not a rule",
	]}
	not access.allow with input as {"src": alice, "dst": web, "proto": "tcp", "port": 22, "acls": bad}
	errs := access.errors with input as {"acls": bad}
	errs == [
		`rule #1: port "70000" is not a port, a range like 1000-2000, or *`,
		"rule #5: must be an object with src, dst, proto and ports",
		"rule p: proto \"gre\" is not one of tcp, udp, icmp, any",
		"rule rev: port \"30-20\" is not a port, a range like 1000-2000, or *",
		"rule s: dst must be a non-empty list of selectors",
		"rule s: src selector \"role:x\" is not *, user:, group:, tag:, node:, an IP or a CIDR",
	]
}

test_shipped_data_denies_everything if {
	not access.allow with input as {"src": alice, "dst": web, "proto": "tcp", "port": 22}
}

# --- quarantine ---------------------------------------------------------------------------------

test_quarantined_source_only_reaches_remediation if {
	d := ask(carol, fixer, "tcp", 443)
	d.allow
	d.reasons == ["carol-laptop (100.64.0.7) -> fixer (100.64.1.8) tcp/443 allowed: quarantined source may reach remediation group:remediation"]
	denied := ask(carol, web, "icmp", null)
	denied.allow == false
	denied.reasons == ["carol-laptop (100.64.0.7) -> web-1 (100.64.1.4) icmp denied: source carol-laptop is quarantined and may only reach group:remediation"]
}

test_quarantine_overrides_rules if {
	q := object.union(alice, {"quarantined": true})
	not ask(q, web, "tcp", 22).allow
	not ask(alice, object.union(web, {"quarantined": true}), "tcp", 22).allow
}

test_remediation_reaches_quarantined if {
	d := ask(fixer, carol, "tcp", 22)
	d.allow
	d.reasons == ["fixer (100.64.1.8) -> carol-laptop (100.64.0.7) tcp/22 allowed: remediation may reach quarantined destination"]
	not ask(bob, carol, "tcp", 22).allow
}

test_quarantine_without_remediation_isolates if {
	acls := {"groups": acls_fixture.groups, "rules": acls_fixture.rules, "quarantine": {"tags": ["tag:quarantine"]}}
	d := access.decision with input as {"src": carol, "dst": fixer, "proto": "tcp", "port": 443, "acls": acls}
	d.allow == false
	d.reasons == ["carol-laptop (100.64.0.7) -> fixer (100.64.1.8) tcp/443 denied: source carol-laptop is quarantined and may only reach no remediation group (none is configured)"]
}

# --- network maps -------------------------------------------------------------------------------

map_of(self) := m if {
	m := access.netmap with input as {"nodes": nodes_fixture, "self": self}
		with data.trellis.acls as acls_fixture
}

test_netmap_peers_are_both_directions if {
	map_of("n1").peers == ["n3", "n4", "n5"]

	# "*" may ping servers, so every non-quarantined node peers with db-1 and web-1.
	map_of("n3").peers == ["n1", "n2", "n4", "n5", "n6", "n8"]
	map_of("n6").peers == ["n3", "n4"]
	map_of("n2").peers == ["n3", "n4"]
}

test_netmap_packet_filter_for_server if {
	m := map_of("n4")
	m.quarantined == false
	m.packetFilter == [
		{"dstIps": ["100.64.1.4", "fd7a::4"], "dstPorts": [], "proto": "any", "srcIps": ["100.64.1.6", "fd7a::6"]},
		{
			"dstIps": ["100.64.1.4", "fd7a::4"], "dstPorts": [], "proto": "icmp",
			"srcIps": ["100.64.0.1", "100.64.0.2", "100.64.1.3", "100.64.1.4", "100.64.1.5", "100.64.1.6", "100.64.1.8", "fd7a::1", "fd7a::2", "fd7a::3", "fd7a::4", "fd7a::5", "fd7a::6", "fd7a::8"],
		},
		{"dstIps": ["100.64.1.4", "fd7a::4"], "dstPorts": [[22, 22]], "proto": "tcp", "srcIps": ["100.64.0.1", "100.64.0.2", "fd7a::1", "fd7a::2"]},
	]
}

test_netmap_ranges_and_cidr_sources if {
	m := map_of("n3")
	{"dstIps": ["100.64.1.3", "fd7a::3"], "dstPorts": [[5432, 5432], [6000, 6010]], "proto": "tcp", "srcIps": ["100.64.0.1", "100.64.0.2", "fd7a::1", "fd7a::2"]} in m.packetFilter
	{"dstIps": ["100.64.1.3", "fd7a::3"], "dstPorts": [[9000, 9000]], "proto": "tcp", "srcIps": ["100.64.0.0/24"]} in m.packetFilter
	count(m.packetFilter) == 4
}

test_netmap_subnet_router_filter if {
	m := map_of("n5")
	m.peers == ["n1", "n3", "n4"]
	m.packetFilter == [{"dstIps": ["10.20.0.0/16"], "dstPorts": [[53, 53]], "proto": "udp", "srcIps": ["100.64.0.1", "fd7a::1"]}]
}

test_netmap_quarantined_node_sees_only_remediation if {
	m := map_of("n7")
	m.quarantined
	m.peers == ["n8"]
	m.packetFilter == [{"dstIps": ["100.64.0.7", "fd7a::7"], "dstPorts": [], "proto": "any", "srcIps": ["100.64.1.8", "fd7a::8"]}]
	f := map_of("n8")
	f.peers == ["n3", "n4", "n7"]
	f.packetFilter == [{"dstIps": ["100.64.1.8", "fd7a::8"], "dstPorts": [], "proto": "any", "srcIps": ["100.64.0.7", "fd7a::7"]}]
}

test_netmap_quarantine_by_flag_and_central_tags if {
	nodes := [object.union(n, {"quarantined": n.id == "n1"}) | some n in nodes_fixture]
	m := access.netmap with input as {"nodes": nodes, "self": "n1"} with data.trellis.acls as acls_fixture
	m.peers == ["n8"]
	t := access.netmap with input as {"nodes": nodes_fixture, "self": "n2", "tags": {"tag:quarantine": ["bob-laptop"]}}
		with data.trellis.acls as acls_fixture
	t.quarantined
	t.peers == ["n8"]
}

test_netmaps_for_every_node if {
	all := access.netmaps with input as {"nodes": nodes_fixture} with data.trellis.acls as acls_fixture
	count(all) == 8
	all.n1 == map_of("n1")
	all.n8.peers == ["n3", "n4", "n7"]
}

test_netmap_unknown_self_is_undefined if {
	not access.netmap with input as {"nodes": nodes_fixture, "self": "nope"} with data.trellis.acls as acls_fixture
}

test_duplicate_node_ids_are_left_out if {
	nodes := array.concat(nodes_fixture, [{"id": "n1", "name": "impostor"}, {"name": "no-id"}])
	all := access.netmaps with input as {"nodes": nodes} with data.trellis.acls as acls_fixture
	not all.n1
	count(all) == 7
	errs := access.node_errors with input as {"nodes": nodes}
	errs == [
		"node \"n1\" needs a unique, non-empty string id; it is left out of every map",
		"node \"n1\" needs a unique, non-empty string id; it is left out of every map",
		"node null needs a unique, non-empty string id; it is left out of every map",
	]
}

# --- grants and node_reads ------------------------------------------------------------------------

grants_of(nodes) := g if {
	g := access.grants with input as {"nodes": nodes} with data.trellis.acls as acls_fixture
}

test_grants_are_the_rules_then_the_quarantine_paths if {
	g := grants_of(nodes_fixture)
	[x.label | some x in g.grants] == [
		"eng-ssh", "eng-db", "#3", "lan", "ping", "from-subnet",
		"quarantine: quarantined nodes reach remediation", "quarantine: remediation reaches quarantined nodes",
	]
	g.grants[1] == {"label": "eng-db", "proto": "tcp", "ports": [[5432, 5432], [6000, 6010]], "src_prefixes": []}
	g.grants[5].src_prefixes == ["100.64.0.0/24"]

	# carol (n7) is quarantined: in no rule, a source of the first quarantine path and a destination of the second.
	{[j, "n7"] | some pr in g.src; pr[1] == "n7"; j := pr[0]} == {[6, "n7"]}
	{pr | some pr in g.dst; pr[1] == "n7"} == {[7, "n7"]}
	{pr | some pr in g.src; pr[1] == "n8"} == {[4, "n8"], [7, "n8"]}
	{pr | some pr in g.dst; pr[1] == "n8"} == {[6, "n8"]}

	# alice's laptop is a named source of eng-ssh, eng-db, lan and ping, and a source of from-subnet by prefix.
	{pr[0] | some pr in g.src; pr[1] == "n1"} == {0, 1, 3, 4}
	{pr[0] | some pr in g.src_prefix; pr[1] == "n1"} == {5}

	# the subnet router is reached at the routed prefix only.
	{pr | some pr in g.dst; pr[1] == "n5"} == {[3, "n5", ["10.20.0.0/16"]]}
}

test_grants_over_some_nodes_are_their_pairs_over_all if {
	all := grants_of(nodes_fixture)
	some_nodes := [n | some n in nodes_fixture; n.id in {"n3", "n7"}]
	part := grants_of(some_nodes)
	part.grants == all.grants
	{pr | some pr in part.src} == {pr | some pr in all.src; pr[1] in {"n3", "n7"}}
	{pr | some pr in part.src_prefix} == {pr | some pr in all.src_prefix; pr[1] in {"n3", "n7"}}
	{pr | some pr in part.dst} == {pr | some pr in all.dst; pr[1] in {"n3", "n7"}}
}

test_node_reads_lists_what_selectors_can_name if {
	r := access.node_reads with input as {} with data.trellis.acls as acls_fixture
	r.contract == "node-classes/v2"
	r.users == ["alice", "bob", "ops"]
	r.groups == ["eng", "group:eng", "group:remediation", "remediation"]
	r.tags == ["ci", "db", "quarantine", "server", "tag:ci", "tag:db", "tag:quarantine", "tag:server"]
	r.nodes == ["db-1", "web-1"]
	r.prefixes == ["10.20.0.0/16", "100.64.0.0/24"]
}

test_netmap_is_the_expansion_of_grants if {
	# A node both quarantined and a remediation destination keeps its own addresses in the sources
	# of the path from quarantined nodes (the expansion does not take them out).
	nodes := [object.union(n, {"tags": ["tag:quarantine"]}) | some n in nodes_fixture; n.id == "n8"]
	m := access.netmap with input as {"nodes": array.concat([n | some n in nodes_fixture; n.id != "n8"], nodes), "self": "n8"}
		with data.trellis.acls as acls_fixture
	m.quarantined
	m.peers == ["n7"]
	m.packetFilter == [
		{"dstIps": ["100.64.1.8", "fd7a::8"], "dstPorts": [], "proto": "any", "srcIps": ["100.64.0.7", "100.64.1.8", "fd7a::7", "fd7a::8"]},
		{"dstIps": ["100.64.1.8", "fd7a::8"], "dstPorts": [], "proto": "any", "srcIps": ["100.64.1.8", "fd7a::8"]},
	]
}

# "*" reaches the hosts behind a gateway's approved routes (like any other destination); other
# named selectors reach only the gateway's own addresses.
test_star_reaches_routed_subnets if {
	lan := {"node": "router", "tags": [], "ip": "10.20.3.4", "subnets": ["10.20.0.0/16"]}
	acl := {"rules": [{"name": "all", "src": ["*"], "dst": ["*"], "proto": "any", "ports": ["*"]}]}
	access.allow with input as {"src": alice, "dst": lan, "proto": "tcp", "port": 22, "acls": acl}
	tagged := {"rules": [{"name": "router", "src": ["*"], "dst": ["node:router"], "proto": "any", "ports": ["*"]}]}
	not access.allow with input as {"src": alice, "dst": lan, "proto": "tcp", "port": 22, "acls": tagged}
}

test_star_grant_names_gateway_subnets if {
	acl := {"rules": [{"name": "all", "src": ["*"], "dst": ["*"], "proto": "any", "ports": ["*"]}]}
	m := access.netmap with input as {"nodes": nodes_fixture, "self": "n5", "acls": acl}
	some r in m.packetFilter
	"10.20.0.0/16" in r.dstIps
}

# --- relay use: which pairs a relay may serve ----------------------------------------------------
# The controller lets relay R serve node X when R's packet filter admits X on R's relay port (udp),
# and serves X–Y when it serves both and they are peers (core/src/controller/relay-plan.ts). So relay
# use is an ordinary rule: engineers' laptops may use tag:relay's relay port, the CI runner may not.

relay_acls := {
	"groups": {"eng": ["alice", "bob"]},
	"rules": [
		{"name": "eng-mesh", "src": ["group:eng"], "dst": ["group:eng"], "proto": "any"},
		{"name": "relay-use", "src": ["group:eng"], "dst": ["tag:relay"], "proto": "udp", "ports": ["51821"]},
		{"name": "ci-ssh-relay", "src": ["tag:ci"], "dst": ["tag:relay"], "proto": "tcp", "ports": ["22"]},
	],
}

relay_nodes := [
	{"id": "n1", "name": "alice-laptop", "user": "alice", "tags": [], "addresses": {"ipv4": "100.64.0.1", "ipv6": "fd7a::1"}},
	{"id": "n2", "name": "bob-laptop", "user": "bob", "tags": [], "addresses": {"ipv4": "100.64.0.2", "ipv6": "fd7a::2"}},
	{"id": "n6", "name": "ci", "user": null, "tags": ["tag:ci"], "addresses": {"ipv4": "100.64.1.6", "ipv6": "fd7a::6"}},
	{"id": "n9", "name": "relay-1", "user": null, "tags": ["tag:relay"], "addresses": {"ipv4": "100.64.1.9", "ipv6": "fd7a::9"}},
]

relay_map(self) := m if {
	m := access.netmap with input as {"nodes": relay_nodes, "self": self}
		with data.trellis.acls as relay_acls
}

test_relay_filter_admits_rule_sources_on_the_relay_port if {
	m := relay_map("n9")
	m.peers == ["n1", "n2", "n6"]
	{"dstIps": ["100.64.1.9", "fd7a::9"], "dstPorts": [[51821, 51821]], "proto": "udp", "srcIps": ["100.64.0.1", "100.64.0.2", "fd7a::1", "fd7a::2"]} in m.packetFilter

	# The CI runner sees the relay (ssh) but its filter entry is tcp/22: the relay does not serve it.
	{"dstIps": ["100.64.1.9", "fd7a::9"], "dstPorts": [[22, 22]], "proto": "tcp", "srcIps": ["100.64.1.6", "fd7a::6"]} in m.packetFilter
	count(m.packetFilter) == 2
}

test_relay_use_decisions if {
	d := access.decision with input as {"src": {"node": "alice-laptop", "user": "alice", "groups": [], "tags": [], "ip": "100.64.0.1"}, "dst": {"node": "relay-1", "user": null, "tags": ["tag:relay"], "ip": "100.64.1.9"}, "proto": "udp", "port": 51821}
		with data.trellis.acls as relay_acls
	d.allow
	not access.allow with input as {"src": {"node": "ci", "user": null, "groups": [], "tags": ["tag:ci"], "ip": "100.64.1.6"}, "dst": {"node": "relay-1", "user": null, "tags": ["tag:relay"], "ip": "100.64.1.9"}, "proto": "udp", "port": 51821}
		with data.trellis.acls as relay_acls
}
