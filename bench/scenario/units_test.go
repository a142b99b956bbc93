package scenario

import (
	"math"
	"testing"
	"time"
)

func TestParseProb(t *testing.T) {
	good := []struct {
		in   string
		want float64
	}{
		{"5%", 0.05},
		{"0.05", 0.05},
		{"0.1%", 0.001},
		{"0.7%", 0.007}, // scaled in decimal: 0.7/100 is one ulp below 0.007
		{"1.1%", 0.011}, // and 1.1/100 one ulp above 0.011
		{"0%", 0},
		{"-0%", 0},
		{"0", 0},
		{"100%", 1},
		{"1", 1},
		{"1.0", 1},
		{".5", 0.5},
		{"12.5%", 0.125},
		{"0.5%", 0.005},
		{"+5%", 0.05},
	}
	for _, tt := range good {
		got, err := parseProb(tt.in)
		if err != nil || got != tt.want || math.Signbit(got) {
			t.Errorf("parseProb(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []string{"", "%", "5 %", " 5%", "5%%", "5%x", "five", "0x1p-2", "5e-2", "1_0%", "NaN", "Inf", "-1%", "-0.1",
		"101%", "1.5", "5", "1e400", "0.05 "}
	for _, in := range bad {
		if got, err := parseProb(in); err == nil {
			t.Errorf("parseProb(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseRate(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"200mbit", 200_000_000},
		{"1.5gbit", 1_500_000_000},
		{"500kbit", 500_000},
		{"64000bit", 64_000},
		{"0.1kbit", 100},
		{"2tbit", 2_000_000_000_000},
		{"200Mbit", 200_000_000}, // tc ignores case
		{"200MBIT", 200_000_000},
		{"0", 0},
		{"0bit", 0},
		{"9000000tbit", 9_000_000_000_000_000_000},
	}
	for _, tt := range good {
		got, err := parseRate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []string{"", "64000", "1.5", "mbit", "200 mbit", "200mbps", "200Mbps", "1kbps", "8bps", "1gbps",
		"200mb", "200m", "200mibit", "0.5bit", "1.0005kbit", "-1mbit", "10000000tbit", "1e3bit", "infbit", "0x10mbit"}
	for _, in := range bad {
		if got, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want int
	}{
		{"1500", 1500},
		{"1500B", 1500},
		{"1500b", 1500},
		{"64KiB", 64 << 10},
		{"1MiB", 1 << 20},
		{"1.5MiB", 3 << 19},
		{"1mib", 1 << 20},
		{"2GiB", 2 << 30},
		{"0.5KiB", 512},
		{"0", 0},
	}
	for _, tt := range good {
		got, err := parseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []string{"", "KiB", "64kb", "64KB", "64k", "1MB", "1mb", "1 MiB", "1.5", "0.3KiB", "-1", "-1KiB",
		"1e3", "0x10", "99999999999GiB", "1TiB"}
	for _, in := range bad {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
	}{
		{"10ms", 10 * time.Millisecond},
		{"250us", 250 * time.Microsecond},
		{"250µs", 250 * time.Microsecond},
		{"1.5s", 1500 * time.Millisecond},
		{"1m30s", 90 * time.Second},
		{"0", 0},
		{"0s", 0},
	}
	for _, tt := range good {
		got, err := parseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []string{"", "10", "10 ms", "ms", "-1ms", "1y", "10msec", "9999999999h"}
	for _, in := range bad {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseMean(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
	}{{"1", 1}, {"4", 4}, {"2.5", 2.5}} {
		if got, err := parseMean(tt.in); err != nil || got != tt.want {
			t.Errorf("parseMean(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "0", "0.99", "-4", "four", "4 packets", "1e400"} {
		if got, err := parseMean(in); err == nil {
			t.Errorf("parseMean(%q) = %v, want an error", in, got)
		}
	}
}

// TestUnitsInFile checks that the units reach the Spec through a file,
// quoted or not.
func TestUnitsInFile(t *testing.T) {
	s, err := Parse([]byte(ok(`    link: {delay: "10ms", jitter: 250us, loss: 0.1%, reorder: 0.05, rate: 1.5gbit, queue: 64KiB, duplicate: "1%"}`)), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ab := s[0].AB
	if ab.Delay != 10*time.Millisecond || ab.Jitter != 250*time.Microsecond || ab.Loss != 0.001 || ab.Reorder != 0.05 ||
		ab.Rate != 1_500_000_000 || ab.Queue != 64<<10 || ab.Duplicate != 0.01 {
		t.Errorf("got %+v", ab)
	}
}

func TestParseMessageRate(t *testing.T) {
	good := []struct {
		in   string
		want float64
	}{
		{"200", 200}, {"200/s", 200}, {"0.5", 0.5}, {".5/s", 0.5}, {"10000", 10000}, {"+1", 1},
	}
	for _, tt := range good {
		if got, err := parseMessageRate(tt.in); err != nil || got != tt.want {
			t.Errorf("parseMessageRate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "/s", "0", "0/s", "-1", "10000.5", "1e3", "200 /s", "200/min", "200hz", "NaN", "Inf", "200/s/s"} {
		if got, err := parseMessageRate(in); err == nil {
			t.Errorf("parseMessageRate(%q) = %v, want an error", in, got)
		}
	}
}
