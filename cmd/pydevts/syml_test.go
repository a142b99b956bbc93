package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pydevts/pydevts/sdmp"
)

// symlTestKeys are two 2048-bit keys, made once: 3072-bit keys (what
// GenerateKey makes) take seconds under -race.
var symlTestKeys = sync.OnceValues(func() (ks [2]*rsa.PrivateKey, err error) {
	for i := range ks {
		if ks[i], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return ks, err
		}
	}
	return ks, nil
})

// symlFixture writes Alice's and Bob's keys (private 0600, public) and a
// user document published by Alice, ending with a line break as an
// editor leaves it, into a temporary directory.
type symlFixture struct {
	dir                        string
	alice, bob                 *rsa.PrivateKey
	aliceKey, alicePub, bobPub string
	doc                        string // path of the YAML document
	stream                     []byte // its stream, without the line break
}

func newSymlFixture(t *testing.T) *symlFixture {
	t.Helper()
	ks, err := symlTestKeys()
	if err != nil {
		t.Fatal(err)
	}
	f := &symlFixture{dir: t.TempDir(), alice: ks[0], bob: ks[1]}
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.aliceKey = write("alice.key", sdmp.MarshalPrivateKeyPEM(f.alice), 0o600)
	f.alicePub = write("alice.pub", sdmp.MarshalPublicKeyPEM(&f.alice.PublicKey), 0o644)
	f.bobPub = write("bob.pub", sdmp.MarshalPublicKeyPEM(&f.bob.PublicKey), 0o644)
	f.stream = []byte(fmt.Sprintf("---\nsdmp:\n  version: 0.9\n  publisher: %q\n  created: \"2026-03-01 09:30\"\n  user:\n    name: \"Alice\"\n...",
		sdmp.Fingerprint(&f.alice.PublicKey)))
	f.doc = write("user.yaml", append(bytes.Clone(f.stream), '\n'), 0o644)
	return f
}

func (f *symlFixture) path(name string) string { return filepath.Join(f.dir, name) }

func runCmdStdin(stdin []byte, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, stdio{bytes.NewReader(stdin), &o, &e})
	return code, o.String(), e.String()
}

func TestSignVerify(t *testing.T) {
	f := newSymlFixture(t)
	id := sdmp.ResourceID(f.stream)

	// sign -o FILE, then verify prints the resource identifier.
	out := f.path("user.syml")
	code, stdout, stderr := runCmd("sign", "--key", f.aliceKey, "-o", out, f.doc)
	if code != 0 || stdout != "" || !strings.Contains(stderr, id) {
		t.Fatalf("sign: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	file, _ := os.ReadFile(out)
	s, err := sdmp.ParseSYML(file)
	if err != nil || !bytes.Equal(s.Stream, f.stream) || s.Verify(&f.alice.PublicKey) != nil {
		t.Fatalf("the signed file: %v\n%s", err, file)
	}
	code, stdout, stderr = runCmd("verify", "--key", f.alicePub, out)
	if code != 0 || stdout != id+"\n" || !strings.Contains(stderr, "an SDMP resource document signed by "+sdmp.Fingerprint(&f.alice.PublicKey)) {
		t.Fatalf("verify: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	// To stdout, and from stdin; flags after the file.
	code, signed, _ := runCmdStdin(f.stream, "sign", "-", "--key", f.aliceKey)
	if code != 0 || !bytes.HasSuffix([]byte(signed), f.stream) {
		t.Fatalf("sign to stdout: exit %d, %q", code, signed)
	}
	if code, stdout, _ := runCmdStdin([]byte(signed), "verify", "--key", f.alicePub, "-"); code != 0 || stdout != id+"\n" {
		t.Fatalf("verify from stdin: exit %d, %q", code, stdout)
	}
	// One line break after "..." is accepted (D3), more is not.
	os.WriteFile(out, []byte(signed+"\n"), 0o644)
	if code, stdout, _ := runCmd("verify", "--key", f.alicePub, out); code != 0 || stdout != id+"\n" {
		t.Errorf("verify with a final line break: exit %d", code)
	}

	// --syml: any YAML stream, any key.
	plain := f.path("plain.yaml")
	os.WriteFile(plain, []byte("---\nhello: world\n...\n"), 0o644)
	code, _, stderr = runCmd("sign", "--key", f.aliceKey, plain)
	if code != 1 || !strings.Contains(stderr, "not an SDMP document") || !strings.Contains(stderr, "--syml") {
		t.Errorf("sign of a non-SDMP stream: exit %d, %q", code, stderr)
	}
	code, signedPlain, _ := runCmd("sign", "--syml", "--key", f.aliceKey, plain)
	if code != 0 {
		t.Fatalf("sign --syml: exit %d", code)
	}
	os.WriteFile(out, []byte(signedPlain), 0o644)
	if code, stdout, _ := runCmd("verify", "--syml", "--key", f.alicePub, out); code != 0 || stdout != sdmp.ResourceID([]byte("---\nhello: world\n..."))+"\n" {
		t.Errorf("verify --syml: exit %d, %q", code, stdout)
	}
	if code, _, stderr := runCmd("verify", "--key", f.alicePub, out); code != 1 || !strings.Contains(stderr, "verifies, but this is not an SDMP document") {
		t.Errorf("verify of a non-SDMP stream: exit %d, %q", code, stderr)
	}
}

func TestSignVerifyErrors(t *testing.T) {
	f := newSymlFixture(t)
	signed := f.path("user.syml")
	if code, _, stderr := runCmd("sign", "--key", f.aliceKey, "-o", signed, f.doc); code != 0 {
		t.Fatal(stderr)
	}
	good, _ := os.ReadFile(signed)
	write := func(name string, b []byte, mode os.FileMode) string {
		p := f.path(name)
		os.WriteFile(p, b, mode)
		return p
	}
	altered := write("altered.syml", bytes.Replace(good, []byte("Alice"), []byte("Alicf"), 1), 0o644)
	garbage := write("garbage.syml", append([]byte("AAAA*\n"), f.stream...), 0o644)
	trailing := write("trailing.syml", append(bytes.Clone(good), "\nextra"...), 0o644)
	looseKey := write("loose.key", sdmp.MarshalPrivateKeyPEM(f.alice), 0o644)
	bobKey := write("bob.key", sdmp.MarshalPrivateKeyPEM(f.bob), 0o600)
	notPEM := write("not.pem", []byte("hello"), 0o600)
	empty := write("empty.yaml", nil, 0o644)

	oneLine := regexp.MustCompile(`^pydevts (sign|verify): [^\n]+\n$`)
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"verify", "--key", f.bobPub, signed}, 1, "does not verify with key " + sdmp.Fingerprint(&f.bob.PublicKey)[:16]},
		{[]string{"verify", "--key", f.alicePub, altered}, 1, "does not verify"},
		{[]string{"verify", "--key", f.alicePub, garbage}, 1, "'*' is not a base64 character"},
		{[]string{"verify", "--key", f.alicePub, trailing}, 1, `trailing data after "..."`},
		{[]string{"verify", "--key", f.alicePub, f.doc}, 1, `no signature before "---"`},
		{[]string{"verify", "--key", f.alicePub, empty}, 1, "is empty"},
		{[]string{"verify", "--key", f.aliceKey, signed}, 1, "a private key; extract the public key with openssl pkey"},
		{[]string{"verify", "--key", notPEM, signed}, 1, "no PEM block"},
		{[]string{"verify", "--key", f.alicePub, f.path("missing")}, 1, "no such file"},
		{[]string{"sign", "--key", looseKey, f.doc}, 1, "chmod 600"},
		{[]string{"sign", "--key", bobKey, f.doc}, 1, "names signer " + sdmp.Fingerprint(&f.alice.PublicKey) + ", but the key is " + sdmp.Fingerprint(&f.bob.PublicKey)},
		{[]string{"sign", "--key", f.aliceKey, signed}, 1, "already signed"},
		{[]string{"sign", "--key", f.alicePub, f.doc}, 1, "signing needs the private key"},
		{[]string{"sign", "--key", f.aliceKey, garbage}, 1, `not with "---"`},
		{[]string{"sign", f.doc}, 2, "--key is required"},
		{[]string{"verify", signed}, 2, "--key is required"},
		{[]string{"sign", "--key", f.aliceKey}, 2, "want the YAML file"},
		{[]string{"verify", "--key", f.alicePub, signed, signed}, 2, "got 2"},
		{[]string{"verify", "--bogus", signed}, 2, "not defined"},
	} {
		code, stdout, stderr := runCmd(c.args...)
		if code != c.code || !strings.Contains(stderr, c.says) || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d saying %q", c.args, code, stdout, stderr, c.code, c.says)
		}
		if c.code == 1 && !oneLine.MatchString(stderr) {
			t.Errorf("%v: error is not one line: %q", c.args, stderr)
		}
	}
	// Bob's key verifies what Bob signed with --syml even though the
	// document names Alice; without --syml, verify says so.
	code, bobSigned, _ := runCmd("sign", "--syml", "--key", bobKey, f.doc)
	if code != 0 {
		t.Fatal("sign --syml with Bob's key failed")
	}
	p := write("bob.syml", []byte(bobSigned), 0o644)
	if code, _, stderr := runCmd("verify", "--key", f.bobPub, p); code != 1 || !strings.Contains(stderr, "names signer "+sdmp.Fingerprint(&f.alice.PublicKey)+", not this key") {
		t.Errorf("verify of a document that names another signer: exit %d, %q", code, stderr)
	}
	if code, _, _ := runCmd("verify", "--syml", "--key", f.bobPub, p); code != 0 {
		t.Errorf("verify --syml: exit %d", code)
	}
	if code, _, _ := runCmd("sign", "-h"); code != 0 {
		t.Errorf("sign -h: exit %d", code)
	}
}

// TestSignOpenSSL signs with our CLI and verifies with openssl, and the
// other way round.
func TestSignOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("PYDEVTS_REQUIRE_TOOLS") != "" {
			t.Fatal("openssl not installed, and PYDEVTS_REQUIRE_TOOLS is set (as in CI)")
		}
		t.Skip("openssl not installed")
	}
	f := newSymlFixture(t)
	signed := f.path("user.syml")
	if code, _, stderr := runCmd("sign", "--key", f.aliceKey, "-o", signed, f.doc); code != 0 {
		t.Fatal(stderr)
	}
	file, _ := os.ReadFile(signed)
	i := bytes.Index(file, []byte("---"))
	// Split the file as the SYML spec does: the signature, then the stream.
	sigFile := f.path("sig.bin")
	b64 := strings.ReplaceAll(string(file[:i]), "\n", "")
	cmd := exec.Command("openssl", "base64", "-d", "-A", "-out", sigFile)
	cmd.Stdin = strings.NewReader(b64)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl base64: %v\n%s", err, out)
	}
	streamFile := f.path("stream.yaml")
	os.WriteFile(streamFile, file[i:], 0o644)
	out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", f.alicePub,
		"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto",
		"-signature", sigFile, streamFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl does not verify what pydevts sign wrote: %v\n%s", err, out)
	}

	// openssl signs (the research notes' recipe), pydevts verify checks.
	osig := f.path("openssl.sig")
	if out, err := exec.Command("openssl", "dgst", "-sha256", "-sign", f.aliceKey,
		"-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32",
		"-out", osig, streamFile).CombinedOutput(); err != nil {
		t.Fatalf("openssl sign: %v\n%s", err, out)
	}
	b64out, err := exec.Command("openssl", "base64", "-in", osig).Output()
	if err != nil {
		t.Fatal(err)
	}
	theirs := f.path("openssl.syml")
	os.WriteFile(theirs, append(b64out, file[i:]...), 0o644)
	if code, stdout, stderr := runCmd("verify", "--key", f.alicePub, theirs); code != 0 || stdout != sdmp.ResourceID(f.stream)+"\n" {
		t.Fatalf("pydevts verify of openssl's file: exit %d, %q %q", code, stdout, stderr)
	}
}
