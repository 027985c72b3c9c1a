# Version normalization for posture checks.
# Turns the versions devices report ("6.1.0-18-amd64", "12", "22.04", "v0.3.1") into plain
# semver ("6.1.0", "12.0.0", "22.4.0", "0.3.1"), compared by semver precedence. Only the leading
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

# version_parts is the leading dotted numbers of v, padded or cut to three ([6, 1, 0] for
# "6.1.0-18-amd64"); undefined when v has no leading dotted number. Each part is 1-9 ASCII digits
# (checked with trim_left, not regex.match: opa's wasm target compiles a regex again on every
# evaluation). The numbers end at the first "-", "+" or "~" (a build or pre-release), so the digits
# and dots that trim_left takes off must be followed by one of those or by nothing. It runs on every
# reported version, so it builds few values: one trim_left instead of a split per separator, and
# the three numbers picked by position rather than sliced and padded.
version_parts(v) := first_three(raw) if {
	s := trim_prefix(trim_space(version_string(v)), "v")
	rest := trim_left(s, "0123456789.")
	version_suffix(rest)
	raw := split(trim_suffix(s, rest), ".")
	every part in raw {
		count(part) > 0
		count(part) <= 9
	}
}

# version_suffix: what follows a version's numbers: nothing, or a build or pre-release.
version_suffix("")

version_suffix(rest) if startswith(rest, "-")

version_suffix(rest) if startswith(rest, "+")

version_suffix(rest) if startswith(rest, "~")

# first_three: the first three of a non-empty list of digit strings as numbers, padded with 0.
first_three(raw) := [to_number(raw[0]), to_number(raw[1]), to_number(raw[2])] if {
	count(raw) >= 3
} else := [to_number(raw[0]), to_number(raw[1]), 0] if {
	count(raw) == 2
} else := [to_number(raw[0]), 0, 0]

# normalize_version is undefined when v has no leading dotted number.
normalize_version(v) := concat(".", [format_int(n, 10) | some n in parts]) if {
	parts := version_parts(v)
}

# version_older(have, want): have < want after normalization; undefined when either is not a version.
# Normalized versions are plain major.minor.patch, so semver precedence is the order of the three
# numbers: compare the arrays (as semver.compare would, without a host call per comparison).
version_older(have, want) if version_parts(have) < version_parts(want)
