package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pydevts/pydevts/handshake"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, stdio{strings.NewReader(""), &o, &e})
	return code, o.String(), e.String()
}

func TestKeygenAndID(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "node.key")

	code, out, errOut := runCmd("keygen", key)
	if code != 0 {
		t.Fatalf("keygen exit %d: %s", code, errOut)
	}
	pub := strings.TrimSpace(out)
	card, err := handshake.ParseCard(pub)
	if err != nil {
		t.Fatalf("keygen printed %q: %v", pub, err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	if !strings.Contains(errOut, card.Fingerprint()) {
		t.Errorf("keygen did not report the fingerprint: %q", errOut)
	}

	// id prints the same public identity, or its fingerprint.
	if code, out, _ := runCmd("id", key); code != 0 || strings.TrimSpace(out) != pub {
		t.Errorf("id: exit %d, printed %q, want %q", code, out, pub)
	}
	for _, args := range [][]string{{"id", "--fingerprint", key}, {"id", key, "--fingerprint"}, {"id", "--fingerprint", pub}} {
		code, out, _ := runCmd(args...)
		if code != 0 || strings.TrimSpace(out) != card.Fingerprint() {
			t.Errorf("%v: exit %d, printed %q", args, code, out)
		}
	}

	// No silent overwrite; --force replaces the identity.
	code, _, errOut = runCmd("keygen", key)
	if code != 1 || !strings.Contains(errOut, "--force") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("keygen over an existing file: exit %d, %q", code, errOut)
	}
	if _, out, _ := runCmd("id", key); strings.TrimSpace(out) != pub {
		t.Error("a refused keygen changed the key file")
	}
	if code, out, _ := runCmd("keygen", key, "--force"); code != 0 || strings.TrimSpace(out) == pub {
		t.Errorf("keygen --force: exit %d, same identity %v", code, strings.TrimSpace(out) == pub)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.key")
	if code, _, _ := runCmd("keygen", loose); code != 0 {
		t.Fatal("keygen failed")
	}
	os.Chmod(loose, 0o644)
	garbage := filepath.Join(dir, "garbage.key")
	os.WriteFile(garbage, []byte("not a key"), 0o600)

	oneLine := regexp.MustCompile(`^pydevts [a-z]+: [^\n]+\n$`)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "Usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"keygen"}, 2, "want the key file"},
		{[]string{"keygen", "a", "b"}, 2, "got 2"},
		{[]string{"keygen", "--bogus", "x"}, 2, "not defined"},
		{[]string{"id", loose}, 1, "chmod 600"},
		{[]string{"id", garbage}, 1, "no private key"},
		{[]string{"id", filepath.Join(dir, "missing")}, 1, "no such file"},
		{[]string{"id", "pydevts1:AAAA"}, 1, "identity card"},
		{[]string{"keygen", filepath.Join(dir, "no", "such", "dir", "k")}, 1, "no such file"},
	} {
		code, _, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(errOut, c.says) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d saying %q", c.args, code, errOut, c.code, c.says)
		}
		if c.code == 1 && !oneLine.MatchString(errOut) {
			t.Errorf("%v: error is not one line: %q", c.args, errOut)
		}
	}
	if code, _, _ := runCmd("keygen", "-h"); code != 0 {
		t.Errorf("keygen -h: exit %d", code)
	}
}
