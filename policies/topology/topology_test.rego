package trellis.topology_test

import data.trellis.topology

test_no_config_no_opinion if {
	not topology.topology
	not topology.topology with data.trellis.topology_config as null
}

test_hub_and_spoke if {
	topology.topology == {"mode": "hub-and-spoke", "hubs": ["tag:hub"]} with data.trellis.topology_config as {"mode": "hub-and-spoke", "hubs": ["tag:hub"]}
}

test_hybrid_with_site_links if {
	cfg := {"mode": "hybrid", "hubs": ["node:hub1"], "direct": ["tag:dc", ["tag:office-a", "tag:office-b"]]}
	topology.topology == cfg with data.trellis.topology_config as cfg
}

test_partial if {
	cfg := {"mode": "partial", "direct": ["tag:dc"]}
	topology.topology == cfg with data.trellis.topology_config as cfg
}

test_unknown_mode_refused if {
	cfg := {"mode": "ring"}
	not topology.topology with data.trellis.topology_config as cfg
	topology.errors == {"topology_config.mode ring is not one of full, hub-and-spoke, partial, hybrid"} with data.trellis.topology_config as cfg
}

test_bad_selectors_refused if {
	cfg := {"mode": "hybrid", "hubs": ["hub1"], "direct": [["tag:a"]]}
	not topology.topology with data.trellis.topology_config as cfg
	topology.errors == {
		"topology_config.hubs[0] hub1 is not a selector",
		"topology_config.direct[0] [\"tag:a\"] is not a selector or a pair of selectors",
	} with data.trellis.topology_config as cfg
}

test_missing_hubs_refused if {
	cfg := {"mode": "hub-and-spoke"}
	not topology.topology with data.trellis.topology_config as cfg
	topology.errors == {"topology_config.mode hub-and-spoke needs hubs"} with data.trellis.topology_config as cfg
}

test_unknown_keys_dropped if {
	topology.topology == {"mode": "full"} with data.trellis.topology_config as {"mode": "full", "note": "x"}
}

test_hub_forwarding_end_to_end if {
	cfg := {"mode": "hub-and-spoke", "hubs": ["node:hub1"], "hubForwarding": "end-to-end"}
	topology.topology == cfg with data.trellis.topology_config as cfg
}

test_bad_hub_forwarding_refused if {
	cfg := {"mode": "hub-and-spoke", "hubs": ["node:hub1"], "hubForwarding": "onion"}
	not topology.topology with data.trellis.topology_config as cfg
	topology.errors == {"topology_config.hubForwarding onion is not one of hop-by-hop, end-to-end"} with data.trellis.topology_config as cfg
}

test_end_to_end_without_hubs_refused if {
	cfg := {"mode": "partial", "direct": ["tag:dc"], "hubForwarding": "end-to-end"}
	not topology.topology with data.trellis.topology_config as cfg
	topology.errors == {"topology_config.hubForwarding end-to-end needs hubs"} with data.trellis.topology_config as cfg
}
