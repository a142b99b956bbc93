package sdmp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSessionEmitConnMessage pins the exact bytes we emit (D4, D5).
func TestSessionEmitConnMessage(t *testing.T) {
	created := time.Date(2015, 6, 18, 14, 7, 59, 0, time.FixedZone("CEST", 2*3600))
	p := bytes.Repeat([]byte{0xff}, 60) // 80 base64 characters: two lines
	got := string(sessionEmitConnMessage(created, 2, p, []byte{1, 2, 3}))
	want := "---\n" +
		"sdmp:\n" +
		"  version: 0.9\n" +
		"  created: \"2015-06-18 12:07\"\n" +
		"  connection:\n" +
		"    g: 2\n" +
		"    p: !!binary |\n" +
		"      " + strings.Repeat("/", 76) + "\n" +
		"      ////\n" +
		"    N: !!binary |\n" +
		"      AQID\n" +
		"..."
	if got != want {
		t.Fatalf("emitted:\n%s\nwant:\n%s", got, want)
	}
	// The real thing: p and N are 256 bytes, 344 base64 characters,
	// four lines of 76 and one of 40.
	full := string(sessionEmitConnMessage(created, 2, sessionPBytes, sessionTestShare(t)))
	var lens []int
	for _, l := range strings.Split(full, "\n") {
		if strings.HasPrefix(l, "      ") {
			lens = append(lens, len(l)-6)
		}
	}
	if want := []int{76, 76, 76, 76, 40, 76, 76, 76, 76, 40}; !equalInts(lens, want) {
		t.Errorf("!!binary lines of %v characters, want %v", lens, want)
	}
	m, err := sessionParseConnMessage([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if m.g != 2 || !bytes.Equal(m.p, sessionPBytes) || !bytes.Equal(m.N, sessionTestShare(t)) ||
		!m.created.Equal(time.Date(2015, 6, 18, 12, 7, 0, 0, time.UTC)) {
		t.Fatalf("parsed back as %+v", m)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSessionParseConnMessage: what the parser takes beyond our own
// form, and what it refuses.
func TestSessionParseConnMessage(t *testing.T) {
	good := string(sessionEmitConnMessage(time.Now(), 2, []byte{1, 2, 3}, []byte{4, 5, 6}))
	edit := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("%q not in the message", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	created := func(v string) string {
		i := strings.Index(good, "  created: ")
		j := i + strings.IndexByte(good[i:], '\n')
		return good[:i] + "  created: " + v + good[j:]
	}
	for _, tc := range []struct {
		name, stream string
		want         string // "" means accepted; else a word of the error
	}{
		{"ours", good, ""},
		{"CRLF", strings.ReplaceAll(good, "\n", "\r\n"), ""},
		{"flow mapping", "---\nsdmp: {version: 0.9, created: \"2015-06-18 12:00\", connection: {g: 2, p: !!binary AQID, N: !!binary BAUG}}\n...", ""},
		{"base64 on one long line", edit("    p: !!binary |\n      AQID\n", "    p: !!binary \"AQID\"\n"), ""},
		{"keys in another order", "---\nsdmp:\n  connection:\n    N: !!binary BAUG\n    p: !!binary AQID\n    g: 0x2\n  created: \"2015-06-18\"\n  version: 0.9\n...", ""},
		{"created date only", created(`"2015-06-18"`), ""},
		{"created YAML timestamp", created("2015-06-18T12:00:00Z"), ""},
		{"created ISO with zone", created(`"2015-06-18T12:00+02:00"`), ""},
		{"created garbage", created(`"yesterday"`), "created"},
		{"created a number", created("12"), "created"},
		{"created missing", edit("  created: ", "  x: "), `"x"`},
		{"sdmp.node", edit("  version: 0.9\n", "  version: 0.9\n  node: abc\n"), `field "node"`},
		{"sdmp.connection.node", edit("    g: 2\n", "    g: 2\n    node: abc\n"), `field "node"`},
		{"another root key", edit("...", "other: 1\n..."), `field "other"`},
		{"duplicate key", edit("    g: 2\n", "    g: 2\n    g: 2\n"), "twice"},
		{"missing N", "---\nsdmp:\n  version: 0.9\n  created: \"2015-06-18 12:00\"\n  connection:\n    g: 2\n    p: !!binary AQID\n...", `lacks "N"`},
		{"version 0.90", edit("version: 0.9", "version: 0.90"), "0.9"},
		{"version string", edit("version: 0.9", `version: "0.9"`), "0.9"},
		{"version 1", edit("version: 0.9", "version: 1"), "0.9"},
		{"g string", edit("g: 2", `g: "2"`), "integer"},
		{"g float", edit("g: 2", "g: 2.0"), "integer"},
		{"g too big", edit("g: 2", "g: 123456789012345678901234567890"), "integer"},
		{"p not binary", edit("    p: !!binary |\n      AQID\n", "    p: AQID\n"), "!!binary"},
		{"p bad base64", edit("AQID", "AQI*"), "base64"},
		{"p unpadded base64", edit("AQID", "AQI"), "base64"},
		{"p with spaces", edit("    p: !!binary |\n      AQID\n", "    p: !!binary \"AQ ID\"\n"), "base64"},
		{"comment", edit("    g: 2", "    g: 2 # two"), "comment"},
		{"head comment", edit("sdmp:", "# hi\nsdmp:"), "comment"},
		{"anchor", edit("    g: 2", "    g: &two 2"), "anchor"},
		{"alias", "---\nx: &a 1\nsdmp:\n  version: *a\n...", "anchor"},
		{"merge key", "---\nsdmp:\n  <<: {version: 0.9}\n...", "not a string"},
		{"custom tag", edit("g: 2", "g: !!int 2"), "tag"},
		{"local tag", edit("g: 2", "g: !two 2"), "tag"},
		{"two documents", edit("\n...", "\n---\nsdmp: 1\n..."), "more than one"},
		{"not a mapping", "---\n- sdmp\n...", "mapping"},
		{"sdmp a list", "---\nsdmp: [1]\n...", "mapping"},
		{"complex key", "---\n? [a]\n: 1\n...", "not a string"},
		{"tab indent", strings.ReplaceAll(good, "  version", "\tversion"), "YAML"},
		{"no end marker", strings.TrimSuffix(good, "..."), "---"},
		{"empty", "", "---"},
		{"too long", good[:len(good)-3] + strings.Repeat("#", sessionMaxConnMessage) + "\n...", "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sessionParseConnMessage([]byte(tc.stream))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if m.g != 2 || !bytes.Equal(m.p, []byte{1, 2, 3}) || !bytes.Equal(m.N, []byte{4, 5, 6}) || m.created.IsZero() {
					t.Fatalf("parsed as %+v", m)
				}
				return
			}
			if !errors.Is(err, ErrConnectionMessage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrConnectionMessage mentioning %q", err, tc.want)
			}
		})
	}
}
