package scenario

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The unit parsers turn one scalar's text into a value or an error that
// quotes the text and shows the forms wanted. They know nothing of files
// or lines: the decoder adds those.

// numberRE is the one decimal syntax under every unit: an optional sign
// (so that "-1%" is reported as out of range, not as gibberish), digits
// with an optional fraction, nothing else. strconv.ParseFloat alone would
// also take exponents, hex floats, underscores, "NaN" and "Inf", none of
// which a scenario file has a reason to use.
var numberRE = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

// errSyntax says that a text is not a number in numberRE's syntax.
var errSyntax = errors.New("not a decimal number")

// decimal parses num, in numberRE's syntax, times 10^exp, rounded once.
// Handing the exponent to strconv with the digits makes the scaling exact:
// "0.7%" becomes the float64 nearest 0.007, the same as "0.007", where
// 0.7/100 is one ulp below it. Negative zero becomes zero.
func decimal(num string, exp int) (float64, error) {
	if !numberRE.MatchString(num) {
		return 0, errSyntax
	}
	f, err := strconv.ParseFloat(num+"e"+strconv.Itoa(exp), 64)
	if err != nil {
		return 0, err // out of float64's range
	}
	if f == 0 {
		f = 0
	}
	return f, nil
}

// parseProb parses a probability: "5%" or a plain fraction "0.05", in
// [0, 1]. A bare number above 1 that would be a valid percentage is most
// likely a forgotten "%", and the error says so.
func parseProb(s string) (float64, error) {
	num, pct := strings.CutSuffix(s, "%")
	exp := 0
	if pct {
		exp = -2
	}
	f, err := decimal(num, exp)
	if err != nil {
		return 0, fmt.Errorf("%q is not a probability (want e.g. 5%% or 0.05)", s)
	}
	if f < 0 || f > 1 {
		if !pct && f > 1 && f <= 100 {
			return 0, fmt.Errorf("%q is out of range: a probability is in [0, 1]; did you mean %s%%?", s, num)
		}
		return 0, fmt.Errorf("%q is out of range: a probability is in [0, 1] (0%% to 100%%)", s)
	}
	return f, nil
}

// rateUnits are tc(8)'s rate units in bits per second, SI multiples as tc
// has them; matched without regard to case, as tc does.
var rateUnits = map[string]int{"bit": 0, "kbit": 3, "mbit": 6, "gbit": 9, "tbit": 12}

// ambiguousRates are refused: tc(8) reads "mbps" as megabytes per second
// and most people as megabits, a factor of 8 either way.
var ambiguousRates = map[string]bool{"bps": true, "kbps": true, "mbps": true, "gbps": true, "tbps": true}

// rateForms is what every rate error suggests.
const rateForms = "want e.g. 64000bit, 500kbit, 200mbit, 1.5gbit"

// parseRate parses a rate in bits per second: a number and one of
// rateUnits ("200mbit", "1.5gbit"). A bare "0" is allowed (unlimited); any
// other bare number is refused, since tc reads it as bits and some readers
// as bytes.
func parseRate(s string) (int64, error) {
	i := strings.IndexFunc(s, isLetter)
	if i < 0 {
		if f, err := decimal(s, 0); err == nil && f == 0 {
			return 0, nil
		}
		return 0, fmt.Errorf("%q has no unit (%s)", s, rateForms)
	}
	num, unit := s[:i], strings.ToLower(s[i:])
	if ambiguousRates[unit] {
		return 0, fmt.Errorf("%q is ambiguous: tc reads %s as bytes per second, most people as bits; write bits (%s)", s, s[i:], rateForms)
	}
	exp, ok := rateUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%q is not a rate (%s)", s, rateForms)
	}
	f, err := decimal(num, exp)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a rate (%s)", s, rateForms)
	case f < 0:
		return 0, fmt.Errorf("%q is negative: a rate is 0 (unlimited) or more", s)
	case f != math.Trunc(f):
		return 0, fmt.Errorf("%q is not a whole number of bits per second", s)
	case f >= 1<<63:
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(f), nil
}

// sizeUnits are byte multiples, IEC only: "kb" is 1000 bytes to some and
// 1024 to tc(8), so it is refused rather than guessed.
var sizeUnits = map[string]float64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}

// parseSize parses a size in bytes: a bare number ("1500"), or a number
// and B, KiB, MiB or GiB, without regard to case ("64KiB", "1MiB").
func parseSize(s string) (int, error) {
	const forms = "want e.g. 1500, 64KiB, 1MiB"
	i := strings.IndexFunc(s, isLetter)
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.ToLower(s[i:])
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%q is not a size in bytes (%s; kB, MB and tc's kb are ambiguous, use KiB or MiB)", s, forms)
	}
	f, err := decimal(num, 0)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size in bytes (%s)", s, forms)
	}
	f *= mult // a power of two: exact
	switch {
	case f < 0:
		return 0, fmt.Errorf("%q is negative", s)
	case f != math.Trunc(f):
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	case f >= math.MaxInt:
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int(f), nil
}

// parseDuration parses a Go duration ("10ms", "250us", "1.5s"), which may
// not be negative. A bare "0" is a duration; "10" is not (which unit?).
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want e.g. 10ms, 250us, 1.5s)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// parseInt parses a whole number in decimal, for counts.
func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}

// parseMean parses a mean burst length in packets: a number, at least 1
// (a burst is one lost packet or more), finite.
func parseMean(s string) (float64, error) {
	f, err := decimal(s, 0)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number of packets (want e.g. 4 or 2.5)", s)
	}
	if f < 1 {
		return 0, fmt.Errorf("%q is out of range: a mean burst is at least 1 packet", s)
	}
	return f, nil
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
