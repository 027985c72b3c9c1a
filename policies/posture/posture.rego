# METADATA
# title: Trellis device posture
# description: |
#   Decides whether a device is compliant from the facts its agent reports (the input; shape in
#   policies/posture/README.md) and data.trellis.posture_config. Each configured check passes or
#   fails; each failure gives one human-readable reason. Entry point: trellis/posture/decision.
package trellis.posture

config := data.trellis.posture_config if {
	is_object(data.trellis.posture_config)
} else := {}

# check_order fixes the order of checks and reasons.
check_order := [
	"os_version",
	"kernel_version",
	"agent_version",
	"disk_encryption",
	"firewall",
	"required_processes",
	"forbidden_processes",
	"wg_key_age",
]

# ----------------------------------------------------------------------------------------------
# The prepared index: what a decision reads from posture_config alone. The evaluator computes
# build_posture_index once per data document and stores it at data.trellis.posture_index (a reserved
# data key; see plugins/posture-opa/src/wasm-evaluator.ts). Without it (opa eval, opa test) each
# decision derives the same values itself, item by item.
# ----------------------------------------------------------------------------------------------

prepared := data.trellis.posture_index if is_object(data.trellis.posture_index)

build_posture_index := {
	"checks": [name | some name in check_order; name in configured],
	"os_want": {id: prepared_version(v) | is_object(config.minOsVersion); some id, v in config.minOsVersion},
	"allowed_distros": concat(", ", allowed_distros),
	"kernel_want": prepared_version(object.get(config, "minKernelVersion", null)),
	"agent_want": prepared_version(object.get(config, "minAgentVersion", null)),
	"configured": {name: true | some name in configured},
	"max_key_age_ns": max_key_age_ns_of(object.get(config, "maxKeyAgeDays", null)),
	"required": process_lookup(object.get(config, "requiredProcesses", [])),
	"forbidden": process_lookup(object.get(config, "forbiddenProcesses", [])),
}

# prepared_version is parsed_version with each part made a plain number: to_number("04") keeps its
# literal, which is not JSON, and the index goes to the host as JSON.
prepared_version(v) := {"parts": [(n + 0) | some n in parts]} if {
	parts := version_parts(v)
} else := {}

max_key_age_ns_of(days) := (days * day_ms) * 1000000 if is_number(days)

else := null

# process_lookup: the names in a configured process list, as an object for O(1) membership.
process_lookup(list) := {p: true | some p in list; is_string(p)}

# is_configured: the checks that are configured, as an object.
is_configured := prepared.configured if {
	is_object(prepared.configured)
} else := {name: true | some name in configured}

# configured_checks: the configured checks in check order.
configured_checks := prepared.checks if {
	is_array(prepared.checks)
} else := [name | some name in check_order; name in configured]

# ----------------------------------------------------------------------------------------------
# Which checks are configured. A check that is not configured is not reported.
# ----------------------------------------------------------------------------------------------

configured contains "os_version" if count(object.get(config, "minOsVersion", {})) > 0

configured contains "kernel_version" if is_string(config.minKernelVersion)

configured contains "agent_version" if is_string(config.minAgentVersion)

configured contains "disk_encryption" if config.requireDiskEncryption == true

configured contains "firewall" if config.requireFirewall == true

configured contains "required_processes" if count(object.get(config, "requiredProcesses", [])) > 0

configured contains "forbidden_processes" if count(object.get(config, "forbiddenProcesses", [])) > 0

configured contains "wg_key_age" if is_number(config.maxKeyAgeDays)

# ----------------------------------------------------------------------------------------------
# failures[check] is the reason a configured check fails.
# ----------------------------------------------------------------------------------------------

# fact reads one reported fact; null when it (or an object on the way) is missing.
fact(path) := object.get(input, path, null)

# The versions are read once each, with plain references (fact builds a path per call).
os_id := input.os.id if is_string(input.os.id)

os_version := v if {
	v := input.os.versionId
} else := null

kernel_release := v if {
	v := input.kernel.release
} else := null

agent_version := v if {
	v := input.agent.version
} else := null

allowed_distros := sort([id | some id, _ in config.minOsVersion])

allowed_distros_text := prepared.allowed_distros if {
	is_string(prepared.allowed_distros)
} else := concat(", ", allowed_distros)

# A version check that passes is known from one comparison; the reasons are worked out only
# for one that does not (os_ok is defined only when both versions parse).
failures["os_version"] := reason if {
	is_configured.os_version
	not os_ok
	reason := os_failure
}

os_ok if os_have.parts >= os_want.parts

kernel_ok if kernel_have.parts >= kernel_want.parts

agent_ok if agent_have.parts >= agent_want.parts

os_failure := "operating system was not reported (os.id is missing)" if {
	not os_id
} else := concat("", ["operating system ", os_id, " is not an allowed distribution (allowed: ", allowed_distros_text, ")"]) if {
	not config.minOsVersion[os_id]
} else := concat("", [os_id, " version was not reported (os.versionId is missing)"]) if {
	not version_string(os_version)
} else := concat("", [os_id, " ", version_string(os_version), " is not a version that can be compared"]) if {
	not os_have.parts
} else := concat("", ["minOsVersion for ", os_id, " is not a version: ", json.marshal(config.minOsVersion[os_id])]) if {
	not os_want.parts
} else := concat("", [os_id, " ", version_string(os_version), " is older than the required ", version_string(config.minOsVersion[os_id])]) if {
	os_have.parts < os_want.parts
}

# Each reported and required version is parsed once per decision (rules are evaluated once per
# query, functions on every call): {"parts": version_parts(v)}, or {} when v is not a version.
parsed_version(v) := {"parts": parts} if {
	parts := version_parts(v)
} else := {}

os_have := parsed_version(os_version)

os_want := w if {
	w := prepared.os_want[os_id]
} else := parsed_version(config.minOsVersion[os_id])

kernel_have := parsed_version(kernel_release)

kernel_want := w if {
	w := prepared.kernel_want
} else := parsed_version(config.minKernelVersion)

agent_have := parsed_version(agent_version)

agent_want := w if {
	w := prepared.agent_want
} else := parsed_version(config.minAgentVersion)

failures["kernel_version"] := reason if {
	is_configured.kernel_version
	not kernel_ok
	reason := version_failure("kernel", kernel_release, kernel_have, config.minKernelVersion, kernel_want, "minKernelVersion")
}

failures["agent_version"] := reason if {
	is_configured.agent_version
	not agent_ok
	reason := version_failure("agent", agent_version, agent_have, config.minAgentVersion, agent_want, "minAgentVersion")
}

# version_failure is the reason "what" at version have is not at least want (both also given
# parsed, by parsed_version); undefined when it is. Normalized versions are major.minor.patch, so
# semver precedence is the order of their three numbers.
version_failure(what, have, have_parsed, want, want_parsed, setting) := concat("", [setting, " is not a version: ", json.marshal(want)]) if {
	not want_parsed.parts
} else := concat("", [what, " version was not reported"]) if {
	not version_string(have)
} else := concat("", [what, " ", version_string(have), " is not a version that can be compared"]) if {
	not have_parsed.parts
} else := concat("", [what, " ", version_string(have), " is older than the required ", want]) if {
	have_parsed.parts < want_parsed.parts
}

failures["disk_encryption"] := "root filesystem is not on an encrypted (dm-crypt/LUKS) device" if {
	is_configured.disk_encryption
	is_boolean(fact(["disk", "rootEncrypted"]))
	fact(["disk", "rootEncrypted"]) != true
}

failures["disk_encryption"] := "disk encryption was not reported (disk.rootEncrypted is missing)" if {
	is_configured.disk_encryption
	not is_boolean(fact(["disk", "rootEncrypted"]))
}

failures["firewall"] := reason if {
	is_configured.firewall
	reason := firewall_failure
}

firewall_failure := "host firewall was not reported (firewall is missing)" if {
	not is_object(fact(["firewall"]))
} else := "host firewall is off (no nftables ruleset is loaded)" if {
	fact(["firewall", "enabled"]) != true
} else := "host firewall accepts all input: its input chain has policy accept and no rules" if {
	firewall_input_policy != "drop"
	firewall_rule_count <= 0
}

firewall_input_policy := lower(fact(["firewall", "inputPolicy"])) if {
	is_string(fact(["firewall", "inputPolicy"]))
} else := "accept"

firewall_rule_count := fact(["firewall", "ruleCount"]) if {
	is_number(fact(["firewall", "ruleCount"]))
} else := 0

# required_running / forbidden_running: the configured names among the reported processes, found
# with one pass over the report and an O(1) lookup each (no set of every reported process).
reported_processes := input.processes if is_array(input.processes)

else := []

required_lookup := prepared.required if {
	is_object(prepared.required)
} else := process_lookup(config.requiredProcesses)

forbidden_lookup := prepared.forbidden if {
	is_object(prepared.forbidden)
} else := process_lookup(config.forbiddenProcesses)

required_running := {p | some p in reported_processes; is_string(p); required_lookup[p]}

forbidden_running := {p | some p in reported_processes; is_string(p); forbidden_lookup[p]}

missing_processes := [p | some p in config.requiredProcesses; not p in required_running]

running_forbidden := [p | some p in config.forbiddenProcesses; p in forbidden_running]

failures["required_processes"] := concat("", ["required processes are not running: ", concat(", ", missing_processes)]) if {
	is_configured.required_processes
	count(missing_processes) > 0
}

# (forbidden_running is empty exactly when running_forbidden is; the list in config order is built
# only for the reason)
failures["forbidden_processes"] := concat("", ["forbidden processes are running: ", concat(", ", running_forbidden)]) if {
	is_configured.forbidden_processes
	count(forbidden_running) > 0
}

day_ms := 86400000

# The key's age is compared in nanoseconds, with integers: time.now_ns (which the wasm host provides,
# and tests replace with `with`) minus the creation time, against the prepared maximum. Only a
# failure's reason divides, to whole days.
key_created_ms := input.wgKey.createdAt if is_number(input.wgKey.createdAt)

key_age_ns := time.now_ns() - (key_created_ms * 1000000)

max_key_age_ns := prepared.max_key_age_ns if {
	is_number(prepared.max_key_age_ns)
} else := (config.maxKeyAgeDays * day_ms) * 1000000

failures["wg_key_age"] := reason if {
	is_configured.wg_key_age
	reason := key_age_failure
}

key_age_failure := "WireGuard key creation time was not reported (wgKey.createdAt is missing)" if {
	not key_created_ms
} else := concat("", [
	"WireGuard key is ", format_int(floor(key_age_ms / day_ms), 10), " days old; the maximum is ",
	format_int(config.maxKeyAgeDays, 10), " days",
]) if {
	key_age_ns > max_key_age_ns
}

key_age_ms := (time.now_ns() / 1000000) - key_created_ms

# ----------------------------------------------------------------------------------------------
# The decision.
# ----------------------------------------------------------------------------------------------

# checks: every configured check passes (is_configured) unless it failed. reasons: none without
# a failure, else one per failed check in check order.
checks := is_configured if {
	count(failures) == 0
} else := object.union(is_configured, {name: false | some name, _ in failures})

reasons := [] if {
	count(failures) == 0
} else := [reason | some name in configured_checks; reason := failures[name]]

default compliant := false

compliant if count(reasons) == 0

decision := {"compliant": compliant, "reasons": reasons, "checks": checks}
