package pydevts_test

// The import arrows of ../shared/ARCHITECTURE.md, enforced. Every package
// of the module must have a rule here; a new package fails this test until
// its rule (and the architecture document) say what it may import.

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/pydevts/pydevts"

// The rules: a package (path inside the module) and what it may import. "std"
// is the standard library; a trailing "/..." allows a whole tree; "*" allows
// anything. Imports of the module itself are written without the module path.
var rules = map[string][]string{
	"internal/wire": {"std"},
	// internal/rangeset is a leaf added beside internal/wire: stream,
	// message and rudp/internal/ack all keep sets of ranges (bytes received
	// or acknowledged, message IDs delivered, packet numbers received), and
	// the arrows let stream and message import nothing of ours but wire.
	"internal/rangeset": {"std"},
	// internal/seqbuf, another leaf: a stream's bytes by offset in pooled
	// chunks, for both directions of stream (and nothing else yet).
	"internal/seqbuf": {"std"},
	// handshake also imports golang.org/x/sys/cpu: the only way to learn
	// whether the CPU has AES instructions (for AES-GCM versus ChaCha20);
	// x/crypto already depends on x/sys, so nothing new enters the build.
	"handshake": {"std", "golang.org/x/crypto/...", "golang.org/x/sys/cpu"},
	"stream":    {"std", "internal/wire", "internal/rangeset", "internal/seqbuf"},
	"message":   {"std", "internal/wire", "internal/rangeset"},
	// rudp/internal/ack imports rudp/internal/cc for one value type: each
	// sent-packet record keeps the rate sampler's SendState, which a
	// model-based controller needs back when the packet is acknowledged.
	"rudp/internal/ack":     {"std", "internal/wire", "internal/rangeset", "rudp/internal/cc"},
	"rudp/internal/cc":      {"std"},
	"rudp/internal/fec":     {"std", "github.com/klauspost/reedsolomon"},
	"rudp/internal/carrier": {"std", "golang.org/x/net/...", "golang.org/x/sys/..."},
	"rudp/relay":            {"std", "golang.org/x/crypto/...", "rudp/internal/carrier"},
	"rudp": {"std", "handshake", "stream", "message", "internal/wire", "internal/rangeset", "rudp/relay", "rudp/internal/...",
		"golang.org/x/net/...", "golang.org/x/sys/..."},
	"sdmp": {"std", "gopkg.in/yaml.v3", "golang.org/x/crypto/..."},
	// sdmp/node reads its config.yaml with yaml.v3, as the binary reads
	// YAML (ARCHITECTURE.md's house style for Config).
	"sdmp/node": {"std", "sdmp", "rudp", "handshake", "stream", "message", "gopkg.in/yaml.v3"},
	// internal/metrics turns the counters of the relay server, the node,
	// its rudp endpoint and its connections into Prometheus metrics, with
	// the standard Go client library. It is the only package that imports
	// that library: the collectors read Stats() at scrape time, so rudp,
	// stream, message, handshake and sdmp stay free of it (and the packet
	// paths pay nothing). Only cmd/pydevts imports internal/metrics.
	"internal/metrics": {"std", "rudp", "rudp/relay", "sdmp/node", "github.com/prometheus/..."},
	// internal/metrics/metricstest parses what /metrics serves, for the
	// tests of internal/metrics and cmd/pydevts (imported by tests only).
	"internal/metrics/metricstest": {"std", "github.com/prometheus/..."},
	"bench/linkemu":                {"std", "golang.org/x/sys/..."},
	"bench/scenario":               {"std", "gopkg.in/yaml.v3", "bench/linkemu"},
	"bench":                        {"*"},
	"cmd/pydevts":                  {"*"},
	// This test's own package, at the module root.
	"": {"std"},
	// bench/linkemu/linkemutest checks that a process's TUN links left no
	// processes or namespaces behind, for the tests of bench/linkemu and
	// bench (imported by tests only).
	"bench/linkemu/linkemutest": {"std", "golang.org/x/sys/..."},
}

// quicGo may be imported only by bench: it is the peer we measure against,
// never part of the transport.
const quicGo = "github.com/quic-go/"

// prometheusLib may be imported only by internal/metrics and by
// cmd/pydevts (whose tests parse what it serves); bench's "*" does not
// extend to it.
const prometheusLib = "github.com/prometheus/"

type pkg struct {
	path    string   // inside the module, "" for the root
	imports []string // of the package's non-test files
	tests   []string // of its test files
}

// listPackages runs go list over the module.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}}|{{join .Imports " "}}|{{join .TestImports " "}} {{join .XTestImports " "}}`,
		"./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		rel := strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/")
		pkgs = append(pkgs, pkg{path: rel, imports: strings.Fields(f[1]), tests: strings.Fields(f[2])})
	}
	return pkgs
}

func allowed(imp string, allow []string) bool {
	// The standard library is what has no dot in its first element and is
	// not ours; our packages are then named without the module path.
	std := !strings.Contains(strings.Split(imp, "/")[0], ".")
	if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
		imp = rel
	}
	for _, a := range allow {
		switch {
		case a == "*":
			return true
		case a == "std":
			if std {
				return true
			}
		case strings.HasSuffix(a, "/..."):
			root := strings.TrimSuffix(a, "/...")
			if imp == root || strings.HasPrefix(imp, root+"/") {
				return true
			}
		case imp == a:
			return true
		}
	}
	return false
}

// violations returns one line per broken rule.
func violations(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		allow, ok := rules[p.path]
		if !ok {
			bad = append(bad, "package "+p.path+" has no import rule: add it to ARCHITECTURE.md and to rules in architecture_test.go")
			continue
		}
		for _, imp := range p.imports {
			if !allowed(imp, allow) {
				bad = append(bad, p.path+" imports "+imp+", which ARCHITECTURE.md does not allow")
			}
		}
		if p.path != "bench" && !strings.HasPrefix(p.path, "bench/") {
			for _, imp := range slices.Concat(p.imports, p.tests) {
				if strings.HasPrefix(imp, quicGo) {
					bad = append(bad, p.path+" imports "+imp+": quic-go belongs in bench only")
				}
			}
		}
		if p.path != "internal/metrics" && !strings.HasPrefix(p.path, "internal/metrics/") && p.path != "cmd/pydevts" {
			for _, imp := range slices.Concat(p.imports, p.tests) {
				if strings.HasPrefix(imp, prometheusLib) {
					bad = append(bad, p.path+" imports "+imp+": the Prometheus library belongs in internal/metrics only")
				}
			}
		}
	}
	return bad
}

func TestImportArrows(t *testing.T) {
	for _, v := range violations(listPackages(t)) {
		t.Error(v)
	}
}

// TestImportArrowsCatchViolations makes sure the check above can fail: a
// module whose arrows are broken in each way must be reported each time.
func TestImportArrowsCatchViolations(t *testing.T) {
	broken := []pkg{
		{path: "handshake", imports: []string{"crypto/ecdh", module + "/rudp"}},
		{path: "handshake", imports: []string{"golang.org/x/net/ipv4"}},
		{path: "stream", imports: []string{module + "/rudp"}},
		{path: "rudp", tests: []string{"github.com/quic-go/quic-go"}},
		{path: "newpkg"},
		{path: "rudp", tests: []string{"github.com/prometheus/client_golang/prometheus"}},
		{path: "bench", imports: []string{"github.com/prometheus/client_golang/prometheus"}},
		{path: "internal/metrics", imports: []string{module + "/sdmp"}},
	}
	for _, p := range broken {
		if v := violations([]pkg{p}); len(v) != 1 {
			t.Errorf("%+v: got %q, want one violation", p, v)
		}
	}
	fine := []pkg{
		{path: "handshake", imports: []string{"crypto/ecdh", "golang.org/x/crypto/blake2s", "golang.org/x/sys/cpu"}},
		{path: "rudp", imports: []string{module + "/rudp/internal/ack", module + "/handshake"}},
		{path: "bench", imports: []string{"github.com/quic-go/quic-go"}},
		{path: "internal/metrics", imports: []string{"github.com/prometheus/client_golang/prometheus", module + "/sdmp/node"}},
		{path: "cmd/pydevts", imports: []string{module + "/internal/metrics"}, tests: []string{"github.com/prometheus/common/expfmt"}},
	}
	if v := violations(fine); len(v) != 0 {
		t.Errorf("allowed imports reported: %q", v)
	}
}
