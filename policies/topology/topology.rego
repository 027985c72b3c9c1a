# METADATA
# title: Trellis topology
# description: |
#   Which topology the mesh uses, when the policy chooses it (overriding the controller's config and
#   `trellis topology set`). The topology is data (data.trellis.topology_config), in the shape the
#   controller config takes: {mode: full|hub-and-spoke|partial|hybrid, hubs: [selector], direct:
#   [selector | [selector, selector]], hubForwarding: hop-by-hop|end-to-end}. Without a config object the policy chooses none and the
#   controller's topology stays. The controller checks the value (a bad one is logged and the
#   topology in force stays); this policy refuses what it can tell is wrong on its own.
#     topology: no input -> {mode, hubs?, direct?} (undefined: no opinion)
#     errors: no input -> [string]: why the configured topology is refused
package trellis.topology

modes := {"full", "hub-and-spoke", "partial", "hybrid"}

hub_forwardings := {"hop-by-hop", "end-to-end"}

config := data.trellis.topology_config if {
	is_object(data.trellis.topology_config)
}

# selector(s): "*" or kind:name, kind one of tag, node, group, user.
selector(s) if s == "*"

selector(s) if {
	is_string(s)
	regex.match(`^(tag|node|group|user):[A-Za-z0-9@][A-Za-z0-9:@_.-]{0,127}$`, s)
}

direct_ok(d) if selector(d)

direct_ok(d) if {
	is_array(d)
	count(d) == 2
	selector(d[0])
	selector(d[1])
}

errors contains msg if {
	not modes[config.mode]
	msg := sprintf("topology_config.mode %v is not one of full, hub-and-spoke, partial, hybrid", [config.mode])
}

errors contains msg if {
	some i, h in object.get(config, "hubs", [])
	not selector(h)
	msg := sprintf("topology_config.hubs[%d] %v is not a selector", [i, h])
}

errors contains msg if {
	some i, d in object.get(config, "direct", [])
	not direct_ok(d)
	msg := sprintf("topology_config.direct[%d] %v is not a selector or a pair of selectors", [i, d])
}

errors contains msg if {
	config.mode in {"hub-and-spoke", "hybrid"}
	count(object.get(config, "hubs", [])) == 0
	msg := sprintf("topology_config.mode %v needs hubs", [config.mode])
}

errors contains msg if {
	config.mode in {"partial", "hybrid"}
	count(object.get(config, "direct", [])) == 0
	msg := sprintf("topology_config.mode %v needs direct", [config.mode])
}

errors contains msg if {
	"hubForwarding" in object.keys(config)
	not hub_forwardings[config.hubForwarding]
	msg := sprintf("topology_config.hubForwarding %v is not one of hop-by-hop, end-to-end", [config.hubForwarding])
}

errors contains msg if {
	config.hubForwarding == "end-to-end"
	count(object.get(config, "hubs", [])) == 0
	msg := "topology_config.hubForwarding end-to-end needs hubs"
}

# topology: the configured topology when it has no errors; undefined otherwise (the controller's stays).
topology := {k: v | some k, v in config; k in {"mode", "hubs", "direct", "hubForwarding"}} if {
	config
	count(errors) == 0
}
