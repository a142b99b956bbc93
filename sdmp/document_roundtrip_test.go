package sdmp

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// testDocuments returns one document of every kind, published by alice
// (whose key signs them) and naming bob.
func testDocuments(t testing.TB, alice, bob *rsa.PrivateKey) []Document {
	t.Helper()
	a, b := Fingerprint(&alice.PublicKey), Fingerprint(&bob.PublicKey)
	created := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	enc, err := SealEncrypted([]byte("---\nmessage: \"hello Bob\"\n..."), &bob.PublicKey, &alice.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var content yaml.Node
	if err := yaml.Unmarshal([]byte("author:\n  name: Alice\nwords: [1, 2.5, true, null, \"x\"]\nempty: {}\n"), &content); err != nil {
		t.Fatal(err)
	}
	id := ResourceID([]byte("---\n..."))
	return []Document{
		&Resource{Publisher: a, Created: created, Identity: &Identity{Type: IdentityUser, Expires: created.AddDate(1, 0, 0), Key: &alice.PublicKey}},
		&Resource{Publisher: a, Created: created, Identity: &Identity{Type: IdentityNode, Expires: created.AddDate(1, 0, 0), Key: &alice.PublicKey},
			Node: &NodeInfo{Name: "home", IPs: []string{"192.0.2.7:36075", "[2001:db8::7]:36075"}}},
		&Resource{Publisher: a, Created: created, Relationship: &Relationship{Type: RelationshipConnection, User: b}},
		&Resource{Publisher: a, Created: created, Relationship: &Relationship{Type: RelationshipHost, Node: b}},
		&Resource{Publisher: a, Created: created, Relationship: &Relationship{Type: RelationshipPublisher, Node: b}},
		&Resource{Publisher: a, Created: created, User: &UserInfo{Name: "Alice \"Al\" O'Hara", About: "línea 1\nline 2\ttab\\"}},
		&Resource{Publisher: a, Created: created, Encrypted: enc},
		&Resource{Publisher: a, Created: created, Updates: []string{id}},
		&Resource{Publisher: a, Created: created, Updates: []string{id}, User: &UserInfo{Name: "Alice"}},
		&Resource{Publisher: a, Created: created, Document: content.Content[0], Content: map[string]*yaml.Node{"blog": content.Content[0], "n": symlIntNode(3)}},
		&Communication{Node: a, Created: created, Synchronize: &Synchronize{Since: b, Limit: 50}},
		&Communication{Node: a, Created: created, Synchronize: &Synchronize{Since: id}},
		&Communication{Node: a, Created: created, Journal: &JournalList{Since: id, Entries: []string{entry, entry}}},
		&Communication{Node: a, Created: created, Journal: &JournalList{Since: id}},
		&Communication{Node: a, Created: created, Request: &ResourceRequest{Author: b, Resource: id}},
		&Communication{Node: a, Created: created, Response: NewResponse([]byte("---\n..."), StatusBadRequest, "could not read it")},
		&Communication{Node: a, Created: created, Response: NewResponse(nil, StatusNotFound, "")},
		&Communication{Node: a, Created: created, Response: &Response{Status: StatusRequestTimeout}},
	}
}

// TestDocumentRoundTrip: encode, sign, parse, verify, decode gives the
// document back, for every kind.
func TestDocumentRoundTrip(t *testing.T) {
	alice, bob := testKey(t, "alice.key"), testKey(t, "bob.key")
	keys := map[string]*rsa.PublicKey{Fingerprint(&alice.PublicKey): &alice.PublicKey, Fingerprint(&bob.PublicKey): &bob.PublicKey}
	keyFor := func(fp string) (*rsa.PublicKey, error) {
		if k := keys[fp]; k != nil {
			return k, nil
		}
		return nil, errors.New("unknown key")
	}
	for i, d := range testDocuments(t, alice, bob) {
		name := fmt.Sprintf("%d (%s)", i, d.Kind())
		stream, err := EncodeDocument(d)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		if again, _ := EncodeDocument(d); !bytes.Equal(again, stream) {
			t.Errorf("%s: two encodings differ", name)
		}
		file, err := SignSYML(alice, stream)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseSYML(file)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := s.Verify(&alice.PublicKey); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := DecodeDocument(s.Stream)
		if err != nil {
			t.Fatalf("%s: decode: %v\n%s", name, err, stream)
		}
		if !documentsEqual(t, d, back) {
			t.Errorf("%s: decoded differently:\n%+v\n%+v\n%s", name, d, back, stream)
		}
		opened, s2, err := OpenDocument(file, keyFor)
		if err != nil || !documentsEqual(t, d, opened) || ResourceID(s2.Stream) != ResourceID(stream) {
			t.Errorf("%s: OpenDocument: %v", name, err)
		}
		// The document is signed by Alice: Bob's key does not open it. (An
		// identity document opens with its own key, whatever keyFor says.)
		if d.Kind() == KindIdentity {
			continue
		}
		swapped := func(fp string) (*rsa.PublicKey, error) { return &bob.PublicKey, nil }
		if _, _, err := OpenDocument(file, swapped); err == nil {
			t.Errorf("%s: opened with the wrong key", name)
		}
	}
}

// documentsEqual compares two documents; free content (yaml.Node, which
// carries line numbers) is compared by its encoding.
func documentsEqual(t testing.TB, a, b Document) bool {
	t.Helper()
	ra, ok1 := a.(*Resource)
	rb, ok2 := b.(*Resource)
	if ok1 && ok2 {
		ea, err1 := EncodeDocument(ra)
		eb, err2 := EncodeDocument(rb)
		ca, cb := *ra, *rb
		ca.Document, cb.Document, ca.Content, cb.Content = nil, nil, nil, nil
		return err1 == nil && err2 == nil && bytes.Equal(ea, eb) && reflect.DeepEqual(ca, cb)
	}
	return reflect.DeepEqual(a, b)
}

func TestOpenDocumentErrors(t *testing.T) {
	alice, bob := testKey(t, "alice.key"), testKey(t, "bob.key")
	docs := testDocuments(t, alice, bob)
	identity, _ := EncodeDocument(docs[0])
	user, _ := EncodeDocument(docs[5])
	signedByBob, _ := SignSYML(bob, identity)
	userFile, _ := SignSYML(alice, user)
	for _, c := range []struct {
		name   string
		file   []byte
		keyFor func(string) (*rsa.PublicKey, error)
		says   string
	}{
		{"identity signed by another key", signedByBob, nil, "does not verify with key " + aliceFingerprint[:16]},
		{"no key source", userFile, nil, "no key for signer " + aliceFingerprint},
		{"unknown signer", userFile, func(string) (*rsa.PublicKey, error) { return nil, errors.New("not a connection") }, "not a connection"},
		{"nil key", userFile, func(string) (*rsa.PublicKey, error) { return nil, nil }, "no key for signer"},
		{"key of another fingerprint", userFile, func(string) (*rsa.PublicKey, error) { return &bob.PublicKey, nil }, "names signer " + aliceFingerprint + ", but the key given is " + bobFingerprint},
		{"not SYML", user, nil, "no signature"},
	} {
		if _, _, err := OpenDocument(c.file, c.keyFor); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.says)
		}
	}
	// An identity document opens with no key source: it carries its key.
	if d, _, err := OpenDocument(mustSign(t, alice, identity), nil); err != nil || d.Kind() != KindIdentity {
		t.Errorf("self-signed identity: %v", err)
	}
}

func mustSign(t testing.TB, k *rsa.PrivateKey, stream []byte) []byte {
	t.Helper()
	f, err := SignSYML(k, stream)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEncodeErrors(t *testing.T) {
	alice := testKey(t, "alice.key")
	a := aliceFingerprint
	created := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		name          string
		d             Document
		field, reason string
	}{
		{"nil", nil, "", "no document"},
		{"nil resource", (*Resource)(nil), "", "no document"},
		{"nil communication", (*Communication)(nil), "", "no document"},
		{"no created", &Resource{Publisher: a, User: &UserInfo{}}, "sdmp.created", "missing"},
		{"bad publisher", &Resource{Publisher: "alice", Created: created, User: &UserInfo{}}, "sdmp.publisher", "64 lowercase hex"},
		{"no content", &Resource{Publisher: a, Created: created}, "sdmp", "no content"},
		{"identity without key", &Resource{Publisher: a, Created: created, Identity: &Identity{Type: IdentityUser, Expires: created}}, "sdmp.identity.key", "missing"},
		{"identity of another publisher", &Resource{Publisher: bobFingerprint, Created: created, Identity: &Identity{Type: IdentityUser, Expires: created, Key: &alice.PublicKey}}, "sdmp.publisher", "its own key"},
		{"relationship with both", &Resource{Publisher: a, Created: created, Relationship: &Relationship{Type: RelationshipHost, User: bobFingerprint, Node: bobFingerprint}}, "sdmp.relationship.user", "names a node, not a user"},
		{"bad IP", &Resource{Publisher: a, Created: created, Node: &NodeInfo{IPs: []string{"localhost:1"}}}, "sdmp.node.ips[0]", "ip:port"},
		{"sdmp in content", &Resource{Publisher: a, Created: created, Content: map[string]*yaml.Node{"sdmp": symlIntNode(1)}}, "sdmp", "Content has an sdmp key"},
		{"nil content", &Resource{Publisher: a, Created: created, Content: map[string]*yaml.Node{"x": nil}}, "x", "no value"},
		{"invalid UTF-8", &Resource{Publisher: a, Created: created, User: &UserInfo{Name: "\xff"}}, "", "not valid UTF-8"},
		{"no part", &Communication{Node: a, Created: created}, "sdmp.communication", "0 of"},
		{"two parts", &Communication{Node: a, Created: created, Request: &ResourceRequest{a, a}, Response: &Response{Status: 404}}, "sdmp.communication", "2 of"},
		{"status 200", &Communication{Node: a, Created: created, Response: &Response{Status: 200}}, "sdmp.communication.response.status", "not a status"},
		{"negative limit", &Communication{Node: a, Created: created, Synchronize: &Synchronize{Since: a, Limit: -1}}, "sdmp.communication.synchronize.limit", "at least 1"},
	} {
		_, err := EncodeDocument(c.d)
		var de *DocumentError
		if !errors.As(err, &de) || de.Field != c.field || !strings.Contains(de.Reason, c.reason) {
			t.Errorf("%s: %v, want field %q saying %q", c.name, err, c.field, c.reason)
		}
	}
}

// TestEmitStrings writes awkward strings and reads them back: quoting must
// keep every string as it was, and whatever we write is in the subset.
func TestEmitStrings(t *testing.T) {
	tricky := []string{
		"", " ", "  lead and trail  ", "yes", "no", "null", "~", "true", "0.9", "1e5", "0x1f", "2015-04-23",
		"2015-04-23 13:10", "[2607:f0d0::1]:36075", "- item", "key: value", "# not a comment", "&anchor", "*alias",
		"!tag", "%directive", "@", "`", "|", ">", "'single'", "\"double\"", "back\\slash", "a\nb", "a\r\nb", "\t",
		"\x00\x01\x1f\x7f", "\u0085", "\u00a0", "\u2028\u2029", "\ufeff", "\uffff", "é", "日本語", "😀", "---", "...",
		"a\n...\nb", "a\n---\nb", "\\n", strings.Repeat("long ", 100),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var b strings.Builder
		for range rng.IntN(20) {
			switch rng.IntN(4) {
			case 0:
				b.WriteRune(rune(rng.IntN(0x80)))
			case 1:
				b.WriteRune(rune(rng.IntN(0x3000)))
			case 2:
				b.WriteRune(rune(0x10000 + rng.IntN(0x1000)))
			default:
				b.WriteString(tricky[rng.IntN(len(tricky))])
			}
		}
		tricky = append(tricky, strings.ToValidUTF8(b.String(), "?"))
	}
	for _, s := range tricky {
		d := &Resource{Publisher: aliceFingerprint, Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), User: &UserInfo{Name: s, About: s}}
		stream, err := EncodeDocument(d)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if lines := bytes.Count(stream, []byte("\n")); bytes.ContainsAny(stream, "\t") || (s != "" && lines != 8) {
			t.Errorf("%q: not one line each:\n%s", s, stream)
		}
		back, err := DecodeDocument(stream)
		if err != nil {
			t.Errorf("%q: %v\n%s", s, err, stream)
			continue
		}
		if u := back.(*Resource).User; u.Name != s || u.About != s {
			t.Errorf("%q came back as %q", s, u.Name)
		}
	}
}

// TestEmitLayout pins the exact bytes of one document, the D4 subset.
func TestEmitLayout(t *testing.T) {
	alice := testKey(t, "alice.key")
	var content yaml.Node
	yaml.Unmarshal([]byte("list:\n- a: 1\n  b: [x, {c: d}]\n- [1, 2]\n- []\nN: !!binary AAEC\nyes: 2015-01-01\n\"a b\": ~\n"), &content)
	d := &Resource{
		Publisher: aliceFingerprint,
		Created:   time.Date(2026, 3, 1, 9, 30, 59, 0, time.FixedZone("x", 3600)),
		Identity:  &Identity{Type: IdentityUser, Expires: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), Key: &alice.PublicKey},
		Content:   map[string]*yaml.Node{"app": content.Content[0]},
	}
	got, err := EncodeDocument(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `---
sdmp:
  version: 0.9
  publisher: "fa11fdfea53c1a923d744e815d4f9eb9bcbd04c1f195341897b3d8f3ac349a3b"
  created: "2026-03-01 08:30"
  identity:
    type: "user"
    expires: "2027-03-01 00:00"
    key: !!binary |
      MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAkn3JOEQ0QhaqNF2UiqCbAhfqnNMS3BuN
      Pgztm3p1Z/QtKiXSMXkiHEOyME3giDjb10SYNKyPDoHnJklczfeqQ0h3Q6Xc9HdyaOT+9fozciyx
      zDqgI8jZtxRqR9bVJe2PmO7Y/55xtSQZM1xaI8UsCqHNuaGkDZtWfdoug+aqWd8JH3Ez22vEYc9q
      e9RHU6EuUSuOqSEhGSSDl9m84laWDWyRx5WgkBYhAyqSIvsACkdN8C56LakV0z2PSjrzQ1qX/cZd
      jSq5vgvcefr16AeinxulCpVKO3M/Yef3U2wP+z9CX/ZqHQZTJpdmZEE8B277lkrWl4eY/ziicYBs
      pNLHRQIDAQAB
app:
  list:
    - a: 1
      b:
        - "x"
        - c: "d"
    - - 1
      - 2
    - []
  "N": !!binary |
    AAEC
  "yes": "2015-01-01"
  "a b": null
...`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// yaml.v3 reads it as we mean it.
	var v map[string]any
	if err := yaml.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
	app := v["app"].(map[string]any)
	if app["N"] != "\x00\x01\x02" || app["yes"] != "2015-01-01" || app["a b"] != nil {
		t.Errorf("yaml.v3 reads %#v", app)
	}
}
