package sdmp

import (
	"bytes"
	"compress/flate"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"io"
	"math"
	mrand "math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	recordTestKeyA = bytes.Repeat([]byte{0xa1}, 32)
	recordTestKeyB = bytes.Repeat([]byte{0xb2}, 32)
)

func recordTestPair(t testing.TB, key []byte, maxDocument int) (*recordSealer, *recordOpener) {
	t.Helper()
	s, err := recordNewSealer(key, maxDocument)
	if err != nil {
		t.Fatal(err)
	}
	o, err := recordNewOpener(key, maxDocument)
	if err != nil {
		t.Fatal(err)
	}
	return s, o
}

// recordCheckLength checks one record's framing: a length prefix that
// matches, and a plaintext padded to a multiple of 256.
func recordCheckLength(t *testing.T, rec []byte) {
	t.Helper()
	if len(rec) < 4 {
		t.Fatalf("a %d-byte record", len(rec))
	}
	L := int(binary.BigEndian.Uint32(rec))
	if L != len(rec)-4 {
		t.Fatalf("length prefix %d, record body %d bytes", L, len(rec)-4)
	}
	if L < 256+16 || (L-16)%256 != 0 {
		t.Fatalf("record length %d: plaintext %d bytes is not a positive multiple of 256", L, L-16)
	}
}

// TestRecordRoundTrip seals documents of every size around the padding
// boundaries, compressible and not, and opens them again.
func TestRecordRoundTrip(t *testing.T) {
	s, o := recordTestPair(t, recordTestKeyA, DefaultMaxDocument)
	r := mrand.New(mrand.NewPCG(3, 4))
	var docs [][]byte
	for n := 0; n < 800; n += 1 + n/64 {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte(r.Uint32())
		}
		docs = append(docs, d, bytes.Repeat([]byte("ab"), n))
	}
	docs = append(docs, make([]byte, 1<<20))
	var wire bytes.Buffer
	sizes := map[int]bool{}
	for _, d := range docs {
		rec, err := s.seal(d)
		if err != nil {
			t.Fatal(err)
		}
		recordCheckLength(t, rec)
		sizes[len(rec)-4-16] = true
		wire.Write(rec)
	}
	for _, want := range []int{256, 512, 768, 1024} {
		if !sizes[want] {
			t.Errorf("no record with a %d-byte plaintext; the sizes do not cover the boundaries", want)
		}
	}
	for i, want := range docs {
		got, rerr := o.read(&wire, i == 0)
		if rerr != nil {
			t.Fatalf("document %d (%d bytes): %v", i, len(want), rerr.err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("document %d: got %d bytes, want %d", i, len(got), len(want))
		}
	}
}

// TestRecordCounters: each record opens once, in order, under its own
// direction's key.
func TestRecordCounters(t *testing.T) {
	s, o := recordTestPair(t, recordTestKeyA, 1<<16)
	_, other := recordTestPair(t, recordTestKeyB, 1<<16)
	var recs [][]byte
	for i := range 3 {
		rec, err := s.seal([]byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, bytes.Clone(rec))
	}
	open := func(o *recordOpener, rec []byte) error {
		_, rerr := o.read(bytes.NewReader(rec), false)
		if rerr != nil {
			return rerr.err
		}
		return nil
	}
	if err := open(other, recs[0]); !errors.Is(err, ErrRecordInvalid) {
		t.Errorf("the other direction's key opened a record: %v", err)
	}
	if err := open(o, recs[1]); !errors.Is(err, ErrRecordInvalid) {
		t.Errorf("record 1 opened before record 0: %v", err)
	}
	if err := open(o, recs[0]); err != nil {
		t.Fatalf("record 0: %v", err)
	}
	if err := open(o, recs[0]); !errors.Is(err, ErrRecordInvalid) {
		t.Errorf("record 0 replayed: %v", err)
	}
	if err := open(o, recs[1]); err != nil {
		t.Errorf("record 1 after a failed replay: %v", err)
	}
}

// recordSealRaw seals an arbitrary plaintext as record seq, to play a
// peer that holds the key but breaks the format.
func recordSealRaw(t testing.TB, key []byte, seq uint64, plain []byte) []byte {
	t.Helper()
	aead, err := recordAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	return recordSealWith(aead, seq, plain)
}

func recordSealWith(aead cipher.AEAD, seq uint64, plain []byte) []byte {
	hdr := binary.BigEndian.AppendUint32(nil, uint32(len(plain)+16))
	var nonce [12]byte
	recordNonce(&nonce, seq)
	return aead.Seal(hdr, nonce[:], plain, hdr)
}

func recordDeflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func recordPadded(b []byte, n int) []byte {
	return append(bytes.Clone(b), make([]byte, n-len(b))...)
}

// TestRecordMalformed: records that are framed wrongly, or authenticate
// but carry a broken plaintext. Each is refused with the right error.
func TestRecordMalformed(t *testing.T) {
	hello := recordDeflate([]byte("hello"))
	bomb := recordDeflate(make([]byte, 1<<20)) // 1 MiB of zeros: about 1 KiB
	nonzero := recordPadded(hello, 256)
	nonzero[255] = 1
	for _, tc := range []struct {
		name string
		rec  []byte
		want error
	}{
		{"length 0", []byte{0, 0, 0, 0}, ErrRecordInvalid},
		{"length 271", binary.BigEndian.AppendUint32(nil, 271), ErrRecordInvalid},
		{"length 273", binary.BigEndian.AppendUint32(nil, 273), ErrRecordInvalid},
		{"length past the limit", binary.BigEndian.AppendUint32(nil, uint32(recordMaxLength(1<<16)+256)), ErrRecordInvalid},
		{"nope after the first record", []byte("nope"), ErrRecordInvalid},
		{"bad tag", append(binary.BigEndian.AppendUint32(nil, 272), make([]byte, 272)...), ErrRecordInvalid},
		{"padding not zero", recordSealRaw(t, recordTestKeyA, 0, nonzero), ErrRecordInvalid},
		{"a whole unit of padding", recordSealRaw(t, recordTestKeyA, 0, recordPadded(hello, 512)), ErrRecordInvalid},
		{"no DEFLATE end", recordSealRaw(t, recordTestKeyA, 0, recordPadded(hello[:len(hello)-2], 256)), ErrRecordInvalid},
		{"not DEFLATE", recordSealRaw(t, recordTestKeyA, 0, bytes.Repeat([]byte{0xff}, 256)), ErrRecordInvalid},
		{"zip bomb", recordSealRaw(t, recordTestKeyA, 0, recordPadded(bomb, (len(bomb)+255)/256*256)), ErrRecordTooLarge},
		{"truncated", recordSealRaw(t, recordTestKeyA, 0, recordPadded(hello, 256))[:200], io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, o := recordTestPair(t, recordTestKeyA, 1<<16)
			_, rerr := o.read(bytes.NewReader(tc.rec), false)
			if rerr == nil || !errors.Is(rerr.err, tc.want) {
				t.Fatalf("got %v, want %v", rerr, tc.want)
			}
			if !rerr.partial {
				t.Fatal("a failure inside a record reported as a clean boundary")
			}
		})
	}
	// The control: the same construction, correctly padded, opens.
	_, o := recordTestPair(t, recordTestKeyA, 1<<16)
	if d, rerr := o.read(bytes.NewReader(recordSealRaw(t, recordTestKeyA, 0, recordPadded(hello, 256))), false); rerr != nil || string(d) != "hello" {
		t.Fatalf("control: %q, %v", d, rerr)
	}
}

func TestRecordExhausted(t *testing.T) {
	s, o := recordTestPair(t, recordTestKeyA, 1<<16)
	rec, err := s.seal([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	rec = bytes.Clone(rec)
	s.sealed = recordLimitBytes - 255
	if _, err := s.seal([]byte("x")); !errors.Is(err, ErrSessionExhausted) {
		t.Errorf("past the byte limit: %v", err)
	}
	s.sealed, s.seq = 0, math.MaxUint64
	if _, err := s.seal([]byte("x")); !errors.Is(err, ErrSessionExhausted) {
		t.Errorf("at the last counter: %v", err)
	}
	o.opened = recordLimitBytes - 255
	if _, rerr := o.read(bytes.NewReader(rec), false); rerr == nil || !errors.Is(rerr.err, ErrSessionExhausted) {
		t.Errorf("opening past the byte limit: %v", rerr)
	}
	o.opened, o.seq = 0, math.MaxUint64
	if _, rerr := o.read(bytes.NewReader(rec), false); rerr == nil || !errors.Is(rerr.err, ErrSessionExhausted) {
		t.Errorf("opening at the last counter: %v", rerr)
	}
}

// sessionTapConn records every Write as it went to the wire, and can
// change what goes out.
type sessionTapConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
	edit   func(i int, b []byte) []byte // b is a copy; return what to send
}

func (c *sessionTapConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	i := len(c.writes)
	c.writes = append(c.writes, bytes.Clone(b))
	edit := c.edit
	c.mu.Unlock()
	out := b
	if edit != nil {
		out = edit(i, bytes.Clone(b))
	}
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *sessionTapConn) sent() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// sessionTapPair shakes hands over net.Pipe with a tap on the initiator's
// side and returns both sessions.
func sessionTapPair(t *testing.T, edit func(i int, b []byte) []byte, tune func(ini, res *SessionConfig)) (*Session, *Session, *sessionTapConn) {
	t.Helper()
	ini, res := sessionConfigs(t)
	if tune != nil {
		tune(ini, res)
	}
	ci, cr := net.Pipe()
	tap := &sessionTapConn{Conn: ci, edit: edit}
	a, b, erra, errb := sessionHandshakePair(t.Context(), tap, cr, ini, res)
	if erra != nil || errb != nil {
		t.Fatalf("handshake: %v, %v", erra, errb)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, tap
}

// TestRecordPaddingOnTheWire checks the records a session really sends.
func TestRecordPaddingOnTheWire(t *testing.T) {
	a, b, tap := sessionTapPair(t, nil, nil)
	docs := sessionDocs(5, 40)
	go func() {
		for _, d := range docs {
			if err := a.WriteDocument(d); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range docs {
		if _, err := b.ReadDocument(); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
	}
	w := tap.sent()
	if len(w) != 1+len(docs) {
		t.Fatalf("%d writes, want the connection message and %d records", len(w), len(docs))
	}
	for _, rec := range w[1:] {
		recordCheckLength(t, rec)
	}
	// An incompressible 1000-byte document needs 1000+ bytes of DEFLATE:
	// padded, 1024 or 1280, never less.
	if L := len(w[1+3]) - 4 - 16; len(docs[3]) > 1000 && L < len(docs[3]) {
		t.Errorf("a %d-byte random document went out as %d bytes", len(docs[3]), L)
	}
}

// sessionExpectBroken checks that a session that failed has closed its
// connection: the peer's read ends, and the failed side repeats its error.
func sessionExpectBroken(t *testing.T, failed, peer *Session, want error) {
	t.Helper()
	// The peer's read ends: io.EOF, or the error of its own write that hit
	// the closed connection first; not a timeout.
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := peer.ReadDocument(); err != io.EOF && !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("the peer of the failed side reads %v, want io.EOF (closed)", err)
	}
	if _, err := failed.ReadDocument(); !errors.Is(err, want) {
		t.Errorf("a second read after the failure: %v, want %v again", err, want)
	}
	if err := failed.WriteDocument([]byte("x")); !errors.Is(err, want) {
		t.Errorf("a write after the failure: %v, want %v", err, want)
	}
}

// TestRecordTampered flips one bit of the third record on the wire, in
// the length, the ciphertext and the tag: the receiver fails and closes.
func TestRecordTampered(t *testing.T) {
	for _, tc := range []struct {
		name string
		flip func(rec []byte)
	}{
		{"length", func(rec []byte) { rec[3] ^= 1 }},
		{"length AAD", func(rec []byte) { rec[2] ^= 1 }}, // 1296 → 1040: a valid size, another AAD
		{"ciphertext", func(rec []byte) { rec[4+17] ^= 0x10 }},
		{"tag", func(rec []byte) { rec[len(rec)-1] ^= 0x80 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, _ := sessionTapPair(t, func(i int, rec []byte) []byte {
				if i == 3 { // the connection message is write 0
					tc.flip(rec)
				}
				return rec
			}, nil)
			go func() {
				// 1200 random bytes: each record is 1296 bytes (0x510).
				for _, d := range sessionRandomDocs(6, 1200) {
					if a.WriteDocument(d) != nil {
						return
					}
				}
			}()
			for i := range 2 {
				if _, err := b.ReadDocument(); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
			}
			_, err := b.ReadDocument()
			if !errors.Is(err, ErrRecordInvalid) {
				t.Fatalf("tampered record: %v, want ErrRecordInvalid", err)
			}
			sessionExpectBroken(t, b, a, ErrRecordInvalid)
		})
	}
}

// TestRecordReplayed sends the second record twice.
func TestRecordReplayed(t *testing.T) {
	a, b, _ := sessionTapPair(t, func(i int, rec []byte) []byte {
		if i == 2 {
			return append(rec, rec...)
		}
		return rec
	}, nil)
	go func() {
		for i := range 4 {
			if a.WriteDocument([]byte{byte(i)}) != nil {
				return
			}
		}
	}()
	for i := range 2 {
		if d, err := b.ReadDocument(); err != nil || !bytes.Equal(d, []byte{byte(i)}) {
			t.Fatalf("record %d: %x, %v", i, d, err)
		}
	}
	_, err := b.ReadDocument()
	if !errors.Is(err, ErrRecordInvalid) || !strings.Contains(err.Error(), "record 2 does not authenticate") {
		t.Fatalf("replayed record: %v", err)
	}
	sessionExpectBroken(t, b, a, ErrRecordInvalid)
}

// TestRecordZipBomb: a peer whose documents may be larger than ours sends
// a small record that inflates past our limit.
func TestRecordZipBomb(t *testing.T) {
	a, b, tap := sessionTapPair(t, nil, func(ini, res *SessionConfig) {
		ini.MaxDocument = 8 << 20
		res.MaxDocument = 64 << 10
	})
	// Our own limit is enforced before sending, and the session survives.
	if err := b.WriteDocument(make([]byte, 64<<10+1)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("sending past MaxDocument: %v", err)
	}
	go a.WriteDocument(make([]byte, 4<<20))
	_, err := b.ReadDocument()
	if !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("zip bomb: %v, want ErrRecordTooLarge", err)
	}
	if n := len(tap.sent()[1]); n > 8<<10 {
		t.Errorf("the bomb was a %d-byte record; the test wants a small one", n)
	}
	sessionExpectBroken(t, b, a, ErrRecordTooLarge)
}

// TestRecordReadTimeout: a read deadline that passes between records
// leaves the session usable.
func TestRecordReadTimeout(t *testing.T) {
	a, b, _ := sessionTapPair(t, nil, nil)
	b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := b.ReadDocument(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle read: %v, want a deadline error", err)
	}
	b.SetReadDeadline(time.Time{})
	go a.WriteDocument([]byte("still here"))
	if d, err := b.ReadDocument(); err != nil || string(d) != "still here" {
		t.Fatalf("after the timeout: %q, %v", d, err)
	}
}

// sessionRandomDocs returns n incompressible documents of size bytes.
func sessionRandomDocs(n, size int) [][]byte {
	r := mrand.New(mrand.NewPCG(uint64(n), uint64(size)))
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = make([]byte, size)
		for j := range docs[i] {
			docs[i][j] = byte(r.Uint32())
		}
	}
	return docs
}
