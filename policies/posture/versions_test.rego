package trellis.posture_test

import data.trellis.posture

test_normalize_version if {
	posture.normalize_version("6.1.0-18-amd64") == "6.1.0"
	posture.normalize_version("12") == "12.0.0"
	posture.normalize_version(12) == "12.0.0"
	posture.normalize_version("22.04") == "22.4.0"
	posture.normalize_version("v0.3.1") == "0.3.1"
	posture.normalize_version(" 1.2.3+build.7 ") == "1.2.3"
	posture.normalize_version("5.15.153.1-microsoft-standard-WSL2") == "5.15.153"
	posture.normalize_version("2.0~rc1") == "2.0.0"
}

test_normalize_version_rejects_non_versions if {
	not posture.normalize_version("bookworm")
	not posture.normalize_version("")
	not posture.normalize_version("1..2")
	not posture.normalize_version(1.5)
	not posture.normalize_version(null)
}

test_version_older if {
	posture.version_older("6.0.99", "6.1")
	posture.version_older("5.10.0-28-amd64", "6.1.0-18-amd64")
	posture.version_older("9", "10")
	not posture.version_older("6.1.0-18-amd64", "6.1")
	not posture.version_older("10", "9")
	not posture.version_older("6.1", "6.1.0")
	not posture.version_older("x", "1")
}
