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

os_id := fact(["os", "id"]) if is_string(fact(["os", "id"]))

os_version := fact(["os", "versionId"])

allowed_distros := sort([id | some id, _ in config.minOsVersion])

failures["os_version"] := reason if {
	"os_version" in configured
	reason := os_failure
}

os_failure := "operating system was not reported (os.id is missing)" if {
	not os_id
} else := concat("", ["operating system ", os_id, " is not an allowed distribution (allowed: ", concat(", ", allowed_distros), ")"]) if {
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

os_want := parsed_version(config.minOsVersion[os_id])

kernel_have := parsed_version(fact(["kernel", "release"]))

kernel_want := parsed_version(config.minKernelVersion)

agent_have := parsed_version(fact(["agent", "version"]))

agent_want := parsed_version(config.minAgentVersion)

failures["kernel_version"] := reason if {
	"kernel_version" in configured
	reason := version_failure("kernel", fact(["kernel", "release"]), kernel_have, config.minKernelVersion, kernel_want, "minKernelVersion")
}

failures["agent_version"] := reason if {
	"agent_version" in configured
	reason := version_failure("agent", fact(["agent", "version"]), agent_have, config.minAgentVersion, agent_want, "minAgentVersion")
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
	"disk_encryption" in configured
	is_boolean(fact(["disk", "rootEncrypted"]))
	fact(["disk", "rootEncrypted"]) != true
}

failures["disk_encryption"] := "disk encryption was not reported (disk.rootEncrypted is missing)" if {
	"disk_encryption" in configured
	not is_boolean(fact(["disk", "rootEncrypted"]))
}

failures["firewall"] := reason if {
	"firewall" in configured
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

processes := {p | some p in fact(["processes"]); is_string(p)} if is_array(fact(["processes"]))

else := set()

missing_processes := [p | some p in config.requiredProcesses; not p in processes]

running_forbidden := [p | some p in config.forbiddenProcesses; p in processes]

failures["required_processes"] := concat("", ["required processes are not running: ", concat(", ", missing_processes)]) if {
	"required_processes" in configured
	count(missing_processes) > 0
}

failures["forbidden_processes"] := concat("", ["forbidden processes are running: ", concat(", ", running_forbidden)]) if {
	"forbidden_processes" in configured
	count(running_forbidden) > 0
}

day_ms := 86400000

# now_ms comes from time.now_ns, which the wasm host provides (and tests replace with `with`).
now_ms := time.now_ns() / 1000000

key_age_ms := now_ms - fact(["wgKey", "createdAt"]) if is_number(fact(["wgKey", "createdAt"]))

failures["wg_key_age"] := reason if {
	"wg_key_age" in configured
	reason := key_age_failure
}

key_age_failure := "WireGuard key creation time was not reported (wgKey.createdAt is missing)" if {
	not key_age_ms
} else := concat("", [
	"WireGuard key is ", format_int(floor(key_age_ms / day_ms), 10), " days old; the maximum is ",
	format_int(config.maxKeyAgeDays, 10), " days",
]) if {
	key_age_ms > config.maxKeyAgeDays * day_ms
}

# ----------------------------------------------------------------------------------------------
# The decision.
# ----------------------------------------------------------------------------------------------

checks := {name: passed |
	some name in configured
	passed := not_failed(name)
}

not_failed(name) := false if {
	failures[name]
} else := true

reasons := [failures[name] | some name in check_order; failures[name]]

default compliant := false

compliant if count(reasons) == 0

decision := {"compliant": compliant, "reasons": reasons, "checks": checks}
