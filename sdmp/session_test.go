package sdmp

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Carol is a node nobody accepts. Her key is made once per test binary:
// 2048 bits, the fastest size SYML accepts.
var (
	sessionCarolOnce sync.Once
	sessionCarolKey  *rsa.PrivateKey
)

func sessionCarol(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	sessionCarolOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		sessionCarolKey = k
	})
	return sessionCarolKey
}

// sessionConfigs returns the usual pair: alice dials bob, and bob accepts
// carol (first, to make him try a wrong key) and alice.
func sessionConfigs(t testing.TB) (alice, bob *SessionConfig) {
	a, b := testKey(t, "alice.key"), testKey(t, "bob.key")
	alice = &SessionConfig{Key: a, Initiator: true, Peer: &b.PublicKey}
	bob = &SessionConfig{Key: b, Accept: []*rsa.PublicKey{&sessionCarol(t).PublicKey, &a.PublicKey}}
	return alice, bob
}

type sessionResult struct {
	s   *Session
	err error
}

// sessionHandshakePair runs both handshakes at once and returns both
// results.
func sessionHandshakePair(ctx context.Context, ci, cr net.Conn, ini, res *SessionConfig) (si, sr *Session, erri, errr error) {
	done := make(chan sessionResult)
	go func() {
		s, err := Handshake(ctx, cr, res)
		done <- sessionResult{s, err}
	}()
	si, erri = Handshake(ctx, ci, ini)
	r := <-done
	return si, r.s, erri, r.err
}

// sessionTCPPair returns the two ends of a real TCP connection on
// loopback: the dialled end first.
func sessionTCPPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			c = nil
		}
		accepted <- c
	}()
	ci, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cr := <-accepted
	if cr == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { ci.Close(); cr.Close() })
	return ci, cr
}

// sessionDocs makes n documents of assorted sizes and kinds from seed:
// empty, tiny, compressible YAML-like text, and incompressible bytes up to
// 200 KiB.
func sessionDocs(seed uint64, n int) [][]byte {
	r := mrand.New(mrand.NewPCG(seed, 1))
	docs := make([][]byte, n)
	for i := range docs {
		var d []byte
		switch i % 4 {
		case 0:
			d = make([]byte, r.IntN(300))
		case 1:
			var b strings.Builder
			b.WriteString("---\nsdmp:\n  version: 0.9\n")
			for range r.IntN(2000) {
				b.WriteString("  - \"2015-06-18 12:00\"\n")
			}
			b.WriteString("...")
			d = []byte(b.String())
		case 2:
			d = make([]byte, r.IntN(200<<10))
		case 3:
			d = make([]byte, r.IntN(5000))
		}
		if i%4 != 1 {
			for j := range d {
				d[j] = byte(r.Uint32())
			}
		}
		docs[i] = d
	}
	return docs
}

// sessionExchange sends docsA from a to b and docsB from b to a, both at
// once, and checks that every document arrives whole and in order.
func sessionExchange(t *testing.T, a, b *Session, docsA, docsB [][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	send := func(s *Session, docs [][]byte) {
		defer wg.Done()
		for _, d := range docs {
			if err := s.WriteDocument(d); err != nil {
				errs <- err
				return
			}
		}
	}
	recv := func(s *Session, docs [][]byte, who string) {
		defer wg.Done()
		for i, want := range docs {
			got, err := s.ReadDocument()
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: document %d: got %d bytes, want %d (or different bytes)", who, i, len(got), len(want))
				return
			}
		}
	}
	wg.Add(4)
	go send(a, docsA)
	go send(b, docsB)
	go recv(b, docsA, "responder")
	go recv(a, docsB, "initiator")
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSessionExchange(t *testing.T) {
	for _, tc := range []struct {
		name string
		pair func(*testing.T) (net.Conn, net.Conn)
	}{
		{"pipe", func(*testing.T) (net.Conn, net.Conn) { return net.Pipe() }},
		{"tcp", sessionTCPPair},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ini, res := sessionConfigs(t)
			ci, cr := tc.pair(t)
			a, b, erra, errb := sessionHandshakePair(t.Context(), ci, cr, ini, res)
			if erra != nil || errb != nil {
				t.Fatalf("handshake: initiator %v, responder %v", erra, errb)
			}
			if got := a.PeerFingerprint(); got != bobFingerprint {
				t.Errorf("initiator sees peer %s, want bob %s", got, bobFingerprint)
			}
			if got := b.PeerFingerprint(); got != aliceFingerprint {
				t.Errorf("responder sees peer %s, want alice %s", got, aliceFingerprint)
			}
			if !a.Initiator() || b.Initiator() {
				t.Error("Initiator() is wrong")
			}
			sessionExchange(t, a, b, sessionDocs(1, 120), sessionDocs(2, 120))
			// A clean close reaches the other side as io.EOF, after the
			// last whole record.
			go func() {
				if err := a.WriteDocument([]byte("last")); err != nil {
					t.Error(err)
				}
				a.Close()
			}()
			if d, err := b.ReadDocument(); err != nil || string(d) != "last" {
				t.Fatalf("last document: %q, %v", d, err)
			}
			if _, err := b.ReadDocument(); err != io.EOF {
				t.Fatalf("after the peer closed: %v, want io.EOF", err)
			}
			if err := a.WriteDocument([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("write after Close: %v, want net.ErrClosed", err)
			}
			b.Close()
		})
	}
}

// sessionNopeReader reads what a refusing side sends: exactly "nope", then
// the end of the stream.
func sessionExpectNope(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if string(got) != "nope" {
		t.Fatalf("the refusing side sent %q (%v), want exactly \"nope\" then close", got, err)
	}
}

func TestSessionWrongKey(t *testing.T) {
	t.Run("responder refuses an unknown node", func(t *testing.T) {
		ini, res := sessionConfigs(t)
		res.Accept = res.Accept[:1] // carol only
		ci, cr := sessionTCPPair(t)
		_, _, erri, errr := sessionHandshakePair(t.Context(), ci, cr, ini, res)
		if !errors.Is(erri, ErrPeerRefused) {
			t.Errorf("initiator: %v, want ErrPeerRefused", erri)
		}
		if !errors.Is(errr, ErrConnectionMessage) || !strings.Contains(errr.Error(), "none of the 1 node keys") {
			t.Errorf("responder: %v, want ErrConnectionMessage naming the keys", errr)
		}
	})
	t.Run("initiator refuses the wrong responder", func(t *testing.T) {
		ini, res := sessionConfigs(t)
		ini.Peer = &sessionCarol(t).PublicKey // alice expects carol, bob answers
		ci, cr := sessionTCPPair(t)
		_, b, erri, errr := sessionHandshakePair(t.Context(), ci, cr, ini, res)
		if !errors.Is(erri, ErrConnectionMessage) || !strings.Contains(erri.Error(), "not signed by the node we dialled") {
			t.Errorf("initiator: %v, want ErrConnectionMessage", erri)
		}
		if errr != nil {
			t.Fatalf("responder: %v; it cannot know yet", errr)
		}
		// The responder learns of the refusal at its first read.
		if _, err := b.ReadDocument(); !errors.Is(err, ErrPeerRefused) {
			t.Errorf("responder's first read: %v, want ErrPeerRefused", err)
		}
		if err := b.WriteDocument([]byte("x")); !errors.Is(err, ErrPeerRefused) {
			t.Errorf("responder's write after the refusal: %v, want the same error", err)
		}
	})
	t.Run("raw", func(t *testing.T) {
		// Seen on the wire: the responder sends exactly "nope" and closes.
		_, res := sessionConfigs(t)
		res.Accept = res.Accept[1:] // alice only
		carol := sessionCarol(t)
		ci, cr := net.Pipe()
		done := make(chan error, 1)
		go func() { _, err := Handshake(t.Context(), cr, res); done <- err }()
		sessionSendMessage(t, ci, carol, sessionEmitConnMessage(time.Now(), 2, sessionPBytes, sessionTestShare(t)))
		sessionExpectNope(t, ci)
		if err := <-done; !errors.Is(err, ErrConnectionMessage) {
			t.Errorf("responder: %v", err)
		}
	})
}

// sessionTestShare returns a valid N (g^12345), padded to len(p).
func sessionTestShare(t testing.TB) []byte {
	t.Helper()
	N := new(big.Int).Exp(sessionG, big.NewInt(12345), sessionP)
	return N.FillBytes(make([]byte, len(sessionPBytes)))
}

// sessionSendMessage signs stream with key and sends it as a
// pre-handshake frame.
func sessionSendMessage(t testing.TB, c net.Conn, key *rsa.PrivateKey, stream []byte) {
	t.Helper()
	file, err := SignSYML(key, stream)
	if err != nil {
		t.Fatal(err)
	}
	go sessionWriteFrame(c, file) // net.Pipe: the responder reads it
}

// TestSessionRefusedMessages plays a forged initiator, signed with
// alice's accepted key, against a real responder: every unacceptable
// connection message gets exactly "nope", and the responder's error says
// why. The first row is the control: it is accepted.
func TestSessionRefusedMessages(t *testing.T) {
	share := sessionTestShare(t)
	p := sessionPBytes
	pInt := func(delta int64) []byte { // p + delta, padded
		n := new(big.Int).Add(sessionP, big.NewInt(delta))
		return n.FillBytes(make([]byte, len(p)))
	}
	one := big.NewInt(1).FillBytes(make([]byte, len(p)))
	emit := func(g int64, p, N []byte) []byte { return sessionEmitConnMessage(time.Now(), g, p, N) }
	good := string(emit(2, p, share))
	edit := func(old, new string) []byte {
		if !strings.Contains(good, old) {
			t.Fatalf("%q not in the message", old)
		}
		return []byte(strings.Replace(good, old, new, 1))
	}
	otherP := bytes.Clone(p)
	otherP[100] ^= 1
	for _, tc := range []struct {
		name   string
		stream []byte
		want   string // in the responder's error; "" means accepted
	}{
		{"valid", []byte(good), ""},
		{"g=5", emit(5, p, share), "DH group"},
		{"other p", emit(2, otherP, share), "DH group"},
		{"short p", emit(2, p[1:], share), "DH group"},
		{"N=0", emit(2, p, make([]byte, len(p))), "subgroup"},
		{"N=1", emit(2, p, one), "subgroup"},
		{"N=p-1", emit(2, p, pInt(-1)), "subgroup"},
		{"N=p", emit(2, p, pInt(0)), "subgroup"},
		{"N=p+1", emit(2, p, pInt(1)), "subgroup"},
		{"N=2^2048-1", emit(2, p, bytes.Repeat([]byte{0xff}, len(p))), "subgroup"},
		{"N=p-2 (order 2q)", emit(2, p, pInt(-2)), "subgroup"},
		{"N not padded", emit(2, p, []byte{2}), "subgroup"},
		{"N too long", emit(2, p, append([]byte{0}, share...)), "subgroup"},
		{"sdmp.node", edit("  created:", "  node: \""+aliceFingerprint+"\"\n  created:"), `"node"`},
		{"sdmp.publisher", edit("  created:", "  publisher: x\n  created:"), `"publisher"`},
		{"connection.node", edit("    g: 2", "    g: 2\n    node: x"), `"node"`},
		{"root key", edit("...", "data: 1\n..."), `"data"`},
		{"version 0.8", edit("version: 0.9", "version: 0.8"), "0.9"},
		{"comment", edit("    g: 2", "    g: 2 # two"), "comment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res := sessionConfigs(t)
			ci, cr := net.Pipe()
			defer ci.Close()
			done := make(chan error, 1)
			go func() {
				s, err := Handshake(t.Context(), cr, res)
				if s != nil {
					s.Close()
				}
				done <- err
			}()
			sessionSendMessage(t, ci, testKey(t, "alice.key"), tc.stream)
			if tc.want == "" {
				if _, err := sessionReadFrame(ci); err != nil {
					t.Fatalf("control: no connection message back: %v", err)
				}
				if err := <-done; err != nil {
					t.Fatalf("control refused: %v", err)
				}
				return
			}
			sessionExpectNope(t, ci)
			err := <-done
			if !errors.Is(err, ErrConnectionMessage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("responder: %v, want ErrConnectionMessage mentioning %q", err, tc.want)
			}
		})
	}
}

// TestSessionBadFrames: pre-handshake frames that are not connection
// messages at all.
func TestSessionBadFrames(t *testing.T) {
	frame := func(n int, body string) []byte {
		if n < 0 {
			n = len(body)
		}
		return append(binary.BigEndian.AppendUint32(nil, uint32(n)), body...)
	}
	for _, tc := range []struct {
		name string
		send []byte
		want error
	}{
		{"zero length", frame(0, ""), ErrConnectionMessage},
		{"too long", frame(sessionMaxConnMessage+1, ""), ErrConnectionMessage},
		{"http", []byte("GET / HTTP/1.1\r\n\r\n"), ErrConnectionMessage},
		{"not SYML", frame(-1, "hello"), ErrConnectionMessage},
		{"unsigned YAML", frame(-1, "---\nsdmp: 1\n..."), ErrConnectionMessage},
		{"nope", []byte("nope"), ErrPeerRefused},
		{"truncated", frame(100, "abc"), io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res := sessionConfigs(t)
			ci, cr := net.Pipe()
			defer ci.Close()
			done := make(chan error, 1)
			go func() { _, err := Handshake(t.Context(), cr, res); done <- err }()
			go func() {
				ci.Write(tc.send)
				if tc.want == io.ErrUnexpectedEOF {
					ci.Close() // the frame ends early
				}
			}()
			if tc.want == io.ErrUnexpectedEOF {
				if err := <-done; !errors.Is(err, tc.want) {
					t.Fatalf("responder: %v, want %v", err, tc.want)
				}
				return
			}
			if tc.want == ErrPeerRefused {
				// No "nope" back to a peer that said it.
				got, _ := io.ReadAll(ci)
				if len(got) != 0 {
					t.Errorf("answered a nope with %q", got)
				}
			} else {
				sessionExpectNope(t, ci)
			}
			if err := <-done; !errors.Is(err, tc.want) {
				t.Fatalf("responder: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSessionHandshakeTimeout(t *testing.T) {
	t.Run("HandshakeTimeout", func(t *testing.T) {
		_, res := sessionConfigs(t)
		res.HandshakeTimeout = 50 * time.Millisecond
		ci, cr := net.Pipe()
		done := make(chan error, 1)
		go func() { _, err := Handshake(context.Background(), cr, res); done <- err }()
		sessionExpectNope(t, ci) // the silent initiator still hears "nope"
		if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("responder: %v, want a deadline error", err)
		}
	})
	t.Run("ctx cancelled", func(t *testing.T) {
		ini, _ := sessionConfigs(t)
		ctx, cancel := context.WithCancel(context.Background())
		ci, cr := net.Pipe()
		defer cr.Close()
		done := make(chan error, 1)
		go func() { _, err := Handshake(ctx, ci, ini); done <- err }()
		// Take the initiator's message, then cancel while it waits.
		if _, err := sessionReadFrame(cr); err != nil {
			t.Fatal(err)
		}
		cancel()
		sessionExpectNope(t, cr)
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("initiator: %v, want context.Canceled", err)
		}
	})
}

func TestSessionConfigErrors(t *testing.T) {
	ini, res := sessionConfigs(t)
	many := make([]*rsa.PublicKey, DefaultMaxVerify+1)
	for i := range many {
		many[i] = res.Accept[0]
	}
	for _, tc := range []struct {
		name string
		cfg  *SessionConfig
		want string
	}{
		{"nil", nil, "no SessionConfig"},
		{"no key", &SessionConfig{Initiator: true, Peer: ini.Peer}, "Key"},
		{"initiator without peer", &SessionConfig{Key: ini.Key, Initiator: true}, "Peer"},
		{"responder without keys", &SessionConfig{Key: res.Key}, "Accept"},
		{"too many keys", &SessionConfig{Key: res.Key, Accept: many}, "MaxVerify"},
		{"huge MaxDocument", &SessionConfig{Key: ini.Key, Initiator: true, Peer: ini.Peer, MaxDocument: 1<<30 + 1}, "MaxDocument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ci, cr := net.Pipe()
			done := make(chan error, 1)
			go func() { _, err := Handshake(t.Context(), cr, tc.cfg); done <- err }()
			sessionExpectNope(t, ci)
			if err := <-done; err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %s", err, tc.want)
			}
		})
	}
}

// TestSessionKeys checks the derivation against its definition (D7),
// computed here independently.
func TestSessionKeys(t *testing.T) {
	a, err := sessionNewDH(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sessionNewDH(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.public) != 256 || a.secret.BitLen() > 256 {
		t.Fatalf("share %d bytes, secret %d bits", len(a.public), a.secret.BitLen())
	}
	Na, err := sessionCheckShare(a.public)
	if err != nil {
		t.Fatal(err)
	}
	Nb, err := sessionCheckShare(b.public)
	if err != nil {
		t.Fatal(err)
	}
	si, sr := []byte("---\ni\n..."), []byte("---\nr\n...")
	i2r, r2i, err := a.sessionKeys(Nb, si, sr)
	if err != nil {
		t.Fatal(err)
	}
	i2rB, r2iB, err := b.sessionKeys(Na, si, sr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(i2r, i2rB) || !bytes.Equal(r2i, r2iB) || bytes.Equal(i2r, r2i) || len(i2r) != 32 {
		t.Fatal("the two sides derive different keys, or one key for both directions")
	}
	s := new(big.Int).Exp(Nb, a.secret, sessionP).FillBytes(make([]byte, 256))
	salt := sessionTestSHA256(append(bytes.Clone(si), sr...))
	if want := sessionTestHKDF(s, salt, "sdmp0.9 i2r"); !bytes.Equal(i2r, want) {
		t.Errorf("i2r = %x, want %x", i2r, want)
	}
	if want := sessionTestHKDF(s, salt, "sdmp0.9 r2i"); !bytes.Equal(r2i, want) {
		t.Errorf("r2i = %x, want %x", r2i, want)
	}
	// Swapping the two streams changes the keys: they bind the order.
	if x, _, _ := a.sessionKeys(Nb, sr, si); bytes.Equal(x, i2r) {
		t.Error("the salt ignores which message came from which side")
	}
}

func sessionTestSHA256(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// sessionTestHKDF is RFC 5869 written out for one 32-byte block:
// PRK = HMAC(salt, IKM), OKM = HMAC(PRK, info ‖ 0x01).
func sessionTestHKDF(ikm, salt []byte, info string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write(ikm)
	prk := m.Sum(nil)
	m = hmac.New(sha256.New, prk)
	m.Write([]byte(info))
	m.Write([]byte{1})
	return m.Sum(nil)
}
