package trellis.posture_test

import data.trellis.posture

day_ms := 86400000

# 2024-06-01T00:00:00Z
now_ns := 1717200000000000000

now_ms := 1717200000000

strict_config := {
	"minOsVersion": {"debian": "12", "ubuntu": "22.04"},
	"minKernelVersion": "6.1",
	"minAgentVersion": "0.2.0",
	"requireDiskEncryption": true,
	"requireFirewall": true,
	"requiredProcesses": ["sshd", "osqueryd"],
	"forbiddenProcesses": ["telnetd", "nc"],
	"maxKeyAgeDays": 90,
}

good_facts := {
	"os": {"id": "debian", "versionId": "12"},
	"kernel": {"release": "6.1.0-18-amd64"},
	"agent": {"version": "0.2.0"},
	"disk": {"rootEncrypted": true, "devices": [{"name": "sda3_crypt", "type": "crypt", "mountpoint": "/"}]},
	"firewall": {"enabled": true, "ruleCount": 12, "inputPolicy": "drop"},
	"processes": ["systemd", "sshd", "osqueryd"],
	"wgKey": {"createdAt": now_ms - (10 * day_ms)},
	"collectedAt": now_ms,
}

decide(facts) := d if {
	d := posture.decision with input as facts
		with data.trellis.posture_config as strict_config
		with time.now_ns as now_ns
}

# with_fact replaces one top-level fact.
with_fact(key, value) := object.union(object.remove(good_facts, [key]), {key: value})

all_checks := {
	"os_version", "kernel_version", "agent_version", "disk_encryption",
	"firewall", "required_processes", "forbidden_processes", "wg_key_age",
}

fails_with(facts, check, reason) if {
	d := decide(facts)
	d.compliant == false
	d.reasons == [reason]
	d.checks[check] == false
	every name in all_checks - {check} {
		d.checks[name] == true
	}
}

test_all_checks_pass if {
	d := decide(good_facts)
	d.compliant
	d.reasons == []
	{name | some name, passed in d.checks; passed} == all_checks
}

test_os_version_fails_when_older if {
	fails_with(with_fact("os", {"id": "debian", "versionId": "11"}), "os_version", "debian 11 is older than the required 12")
}

test_os_version_compares_by_distro if {
	decide(with_fact("os", {"id": "ubuntu", "versionId": "24.04"})).compliant
	decide(with_fact("os", {"id": "ubuntu", "versionId": "22.04"})).compliant
	fails_with(with_fact("os", {"id": "ubuntu", "versionId": "20.04"}), "os_version", "ubuntu 20.04 is older than the required 22.04")
	decide(with_fact("os", {"id": "debian", "versionId": 13})).compliant
}

test_os_not_allowed if {
	fails_with(with_fact("os", {"id": "arch", "versionId": "rolling"}), "os_version", "operating system arch is not an allowed distribution (allowed: debian, ubuntu)")
	fails_with(with_fact("os", {"id": "debian"}), "os_version", "debian version was not reported (os.versionId is missing)")
	fails_with(object.remove(good_facts, ["os"]), "os_version", "operating system was not reported (os.id is missing)")
	fails_with(with_fact("os", {"id": "debian", "versionId": "bookworm"}), "os_version", "debian bookworm is not a version that can be compared")
}

test_kernel_version if {
	fails_with(with_fact("kernel", {"release": "5.10.0-28-amd64"}), "kernel_version", "kernel 5.10.0-28-amd64 is older than the required 6.1")
	decide(with_fact("kernel", {"release": "6.1.0"})).compliant
	decide(with_fact("kernel", {"release": "6.8.0-1012-aws"})).compliant
	decide(with_fact("kernel", {"release": "6.10.14-linuxkit"})).compliant
	fails_with(with_fact("kernel", {"release": "6.0.99"}), "kernel_version", "kernel 6.0.99 is older than the required 6.1")
	fails_with(with_fact("kernel", {}), "kernel_version", "kernel version was not reported")
	fails_with(with_fact("kernel", {"release": "unknown"}), "kernel_version", "kernel unknown is not a version that can be compared")
}

test_agent_version if {
	fails_with(with_fact("agent", {"version": "0.1.9"}), "agent_version", "agent 0.1.9 is older than the required 0.2.0")
	decide(with_fact("agent", {"version": "v0.10.0"})).compliant
	decide(with_fact("agent", {"version": "0.2.0-rc.1"})).compliant
}

test_bad_minimum_is_a_reason if {
	d := posture.decision with input as good_facts
		with data.trellis.posture_config as {"minKernelVersion": "latest"}
		with time.now_ns as now_ns
	d.compliant == false
	d.reasons == [`minKernelVersion is not a version: "latest"`]
}

test_disk_encryption if {
	fails_with(with_fact("disk", {"rootEncrypted": false, "devices": []}), "disk_encryption", "root filesystem is not on an encrypted (dm-crypt/LUKS) device")
	fails_with(with_fact("disk", {"devices": []}), "disk_encryption", "disk encryption was not reported (disk.rootEncrypted is missing)")
}

test_firewall if {
	fails_with(with_fact("firewall", {"enabled": false, "ruleCount": 0, "inputPolicy": "accept"}), "firewall", "host firewall is off (no nftables ruleset is loaded)")
	fails_with(with_fact("firewall", {"enabled": true, "ruleCount": 0, "inputPolicy": "accept"}), "firewall", "host firewall accepts all input: its input chain has policy accept and no rules")
	fails_with(object.remove(good_facts, ["firewall"]), "firewall", "host firewall was not reported (firewall is missing)")
	decide(with_fact("firewall", {"enabled": true, "ruleCount": 0, "inputPolicy": "DROP"})).compliant
	decide(with_fact("firewall", {"enabled": true, "ruleCount": 3, "inputPolicy": "accept"})).compliant
}

test_required_processes if {
	fails_with(with_fact("processes", ["systemd"]), "required_processes", "required processes are not running: sshd, osqueryd")
	fails_with(with_fact("processes", ["sshd"]), "required_processes", "required processes are not running: osqueryd")
}

test_forbidden_processes if {
	fails_with(with_fact("processes", ["sshd", "osqueryd", "nc", "telnetd"]), "forbidden_processes", "forbidden processes are running: telnetd, nc")
}

test_key_age if {
	fails_with(with_fact("wgKey", {"createdAt": now_ms - (120 * day_ms)}), "wg_key_age", "WireGuard key is 120 days old; the maximum is 90 days")
	fails_with(with_fact("wgKey", {"createdAt": (now_ms - (90 * day_ms)) - 1}), "wg_key_age", "WireGuard key is 90 days old; the maximum is 90 days")
	decide(with_fact("wgKey", {"createdAt": now_ms - (90 * day_ms)})).compliant
	fails_with(with_fact("wgKey", {}), "wg_key_age", "WireGuard key creation time was not reported (wgKey.createdAt is missing)")
}

test_key_age_follows_the_clock if {
	facts := with_fact("wgKey", {"createdAt": now_ms - (80 * day_ms)})
	decide(facts).compliant
	later := posture.decision with input as facts
		with data.trellis.posture_config as strict_config
		with time.now_ns as now_ns + ((20 * day_ms) * 1000000)
	later.compliant == false
	later.reasons == ["WireGuard key is 100 days old; the maximum is 90 days"]
}

test_several_failures_in_check_order if {
	facts := object.union(object.remove(good_facts, ["kernel", "disk", "processes"]), {
		"kernel": {"release": "5.4.0"},
		"disk": {"rootEncrypted": false},
		"processes": ["telnetd"],
	})
	d := decide(facts)
	d.compliant == false
	d.reasons == [
		"kernel 5.4.0 is older than the required 6.1",
		"root filesystem is not on an encrypted (dm-crypt/LUKS) device",
		"required processes are not running: sshd, osqueryd",
		"forbidden processes are running: telnetd",
	]
}

test_unconfigured_checks_are_not_reported if {
	d := posture.decision with input as {} with data.trellis.posture_config as {}
	d == {"compliant": true, "reasons": [], "checks": {}}
	e := posture.decision with input as {} with data.trellis.posture_config as {"requireFirewall": true}
	e.checks == {"firewall": false}
}

# The evaluator stores build_posture_index at data.trellis.posture_index; decisions must not change.
test_prepared_index_gives_the_same_decisions if {
	index := posture.build_posture_index with data.trellis.posture_config as strict_config
	every facts in [
		good_facts,
		with_fact("os", {"id": "arch", "versionId": "rolling"}),
		with_fact("os", {"id": "ubuntu", "versionId": "20.04"}),
		with_fact("kernel", {"release": "5.10.0-28-amd64"}),
		with_fact("agent", {"version": "dev"}),
		with_fact("processes", ["telnetd", "sshd"]),
		with_fact("wgKey", {"createdAt": now_ms - (120 * day_ms)}),
		object.remove(good_facts, ["os", "wgKey"]),
	] {
		prepared := posture.decision with input as facts
			with data.trellis.posture_config as strict_config
			with data.trellis.posture_index as index
			with time.now_ns as now_ns
		prepared == decide(facts)
	}
}
