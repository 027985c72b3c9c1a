# Version normalization for posture checks.
# Turns the versions devices report ("6.1.0-18-amd64", "12", "22.04", "v0.3.1") into plain
# semver ("6.1.0", "12.0.0", "22.4.0", "0.3.1") that semver.compare accepts. Only the leading
# dotted numbers count: a kernel's "-18-amd64" is a build, not a pre-release, so 6.1.0-18 meets 6.1.
package trellis.posture

# version_string accepts strings and whole numbers (a distro may report 12 rather than "12").
version_string(v) := v if {
	is_string(v)
} else := format_int(v, 10) if {
	is_number(v)
	v == floor(v)
	v >= 0
}

# normalize_version is undefined when v has no leading dotted number.
normalize_version(v) := concat(".", [format_int(n, 10) | some n in padded]) if {
	s := trim_prefix(trim_space(version_string(v)), "v")
	base := split(split(split(s, "-")[0], "+")[0], "~")[0]
	raw := split(base, ".")
	every part in raw {
		regex.match(`^[0-9]{1,9}$`, part)
	}
	numbers := [to_number(part) | some part in array.slice(raw, 0, 3)]
	padded := array.slice(array.concat(numbers, [0, 0, 0]), 0, 3)
}

# version_older(have, want): have < want after normalization; undefined when either is not a version.
version_older(have, want) if semver.compare(normalize_version(have), normalize_version(want)) < 0
