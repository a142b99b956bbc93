package sdmp

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"
)

// docTemplate fills the placeholders of a test stream: {A} and {B} are
// Alice's and Bob's fingerprints, {ID} a resource identifier, {KEY} and
// {SMALLKEY} Alice's 2048-bit and a 1024-bit public key as !!binary
// literal blocks at 4 spaces, {NOW} a created line.
func docTemplate(t testing.TB, s string) []byte {
	t.Helper()
	keyBlock := func(name string) string {
		block, _ := pem.Decode(readTestdata(t, name))
		b64 := base64.StdEncoding.EncodeToString(block.Bytes)
		var out strings.Builder
		out.WriteString("!!binary |\n")
		for len(b64) > 0 {
			n := min(76, len(b64))
			out.WriteString("      " + b64[:n] + "\n")
			b64 = b64[n:]
		}
		return strings.TrimSuffix(out.String(), "\n")
	}
	r := strings.NewReplacer(
		"{A}", aliceFingerprint,
		"{B}", bobFingerprint,
		"{ID}", aliceUserID,
		"{KEY}", keyBlock("alice.pub"),
		"{SMALLKEY}", keyBlock("small.pub"),
		"{ED25519}", "!!binary MCowBQYDK2VwAyEAqpAYt8gFPfsGllSVzYYXFsE5wmKHJ8/3K6RbnLmxQUg=",
		"{HDR}", "version: 0.9\n  publisher: \"{A}\"\n  created: \"2015-06-18 12:00\"",
		"{CHDR}", "version: 0.9\n  node: \"{A}\"\n  created: \"2015-06-18 12:00\"",
	)
	// Twice: {HDR} brings {A}.
	return []byte(r.Replace(r.Replace(s)))
}

// entry is a well-formed journal line.
var entry = strings.Repeat("1", 64) + "@" + aliceFingerprint + "/" + aliceUserID

func TestDecodeValid(t *testing.T) {
	created := time.Date(2015, 6, 18, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		stream string
		kind   Kind
		check  func(d Document) bool
	}{
		{"identity, user", "---\nsdmp:\n  {HDR}\n  identity:\n    type: \"user\"\n    expires: \"2030-01-01 00:00\"\n    key: {KEY}\n...", KindIdentity,
			func(d Document) bool {
				id := d.(*Resource).Identity
				return id.Type == IdentityUser && Fingerprint(id.Key) == aliceFingerprint && id.Expires.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			}},
		{"identity, node, the spec's unquoted dates", "---\nsdmp:\n  version: 0.9\n  publisher: \"{A}\"\n  created: 2015-04-23\n  identity:\n    type: node\n    expires: 2016-04-23\n    key: {KEY}\n...", KindIdentity,
			func(d Document) bool {
				r := d.(*Resource)
				return r.Identity.Type == IdentityNode && r.Created.Equal(time.Date(2015, 4, 23, 0, 0, 0, 0, time.UTC))
			}},
		{"relationship, connection", "---\nsdmp:\n  {HDR}\n  relationship:\n    type: connection\n    user: \"{B}\"\n...", KindRelationship,
			func(d Document) bool {
				return *d.(*Resource).Relationship == Relationship{Type: "connection", User: bobFingerprint}
			}},
		{"relationship, host", "---\nsdmp:\n  {HDR}\n  relationship:\n    type: host\n    node: \"{B}\"\n...", KindRelationship,
			func(d Document) bool {
				return *d.(*Resource).Relationship == Relationship{Type: "host", Node: bobFingerprint}
			}},
		{"relationship, publisher", "---\nsdmp:\n  {HDR}\n  relationship:\n    type: publisher\n    node: \"{B}\"\n...", KindRelationship,
			func(d Document) bool { return d.(*Resource).Relationship.Type == RelationshipPublisher }},
		{"user and node", "---\nsdmp:\n  {HDR}\n  user:\n    name: \"Alice\"\n    about: \"the one with the cat\"\n  node:\n    name: home\n    ips:\n      - \"192.0.2.1:36075\"\n      - \"[2001:db8::1]:36075\"\n...", KindResource,
			func(d Document) bool {
				r := d.(*Resource)
				return r.User.Name == "Alice" && r.User.About == "the one with the cat" && r.Node.Name == "home" && len(r.Node.IPs) == 2 && r.Node.IPs[1] == "[2001:db8::1]:36075"
			}},
		{"flow style", "---\nsdmp: {version: 0.9, publisher: \"{A}\", created: \"2015-06-18T12:00:00Z\", user: {name: \"Alice\"}}\n...", KindResource,
			func(d Document) bool {
				return d.(*Resource).User.Name == "Alice" && d.(*Resource).Created.Equal(created)
			}},
		{"created with a zone", "---\nsdmp:\n  version: 0.9\n  publisher: \"{A}\"\n  created: \"2015-06-18T14:00+02:00\"\n  user: {}\n...", KindResource,
			func(d Document) bool { return d.(*Resource).Created.Equal(created) }},
		{"encrypted", "---\nsdmp:\n  {HDR}\n  encrypted:\n    keys:\n      - !!binary " + base64.StdEncoding.EncodeToString(make([]byte, 256)) + "\n    data: !!binary |\n      " + base64.StdEncoding.EncodeToString(make([]byte, 40)) + "\n...", KindResource,
			func(d Document) bool {
				e := d.(*Resource).Encrypted
				return len(e.Keys) == 1 && len(e.Keys[0]) == 256 && len(e.Data) == 40
			}},
		{"delete", "---\nsdmp:\n  {HDR}\n  updates:\n    - \"{ID}\"\n    - \"" + strings.Repeat("0", 64) + "\"\n...", KindDelete,
			func(d Document) bool { return len(d.(*Resource).Updates) == 2 && d.(*Resource).IsDelete() }},
		{"update", "---\nsdmp:\n  {HDR}\n  updates: [\"{ID}\"]\n  user:\n    name: \"Alice B.\"\n...", KindResource,
			func(d Document) bool { return !d.(*Resource).IsDelete() && d.(*Resource).Updates[0] == aliceUserID }},
		{"application content", "---\nsdmp:\n  {HDR}\n  document:\n    title: \"hello\"\n    tags: [a, b]\nblog:\n  author:\n    name: \"Alice\"\n    hash: \"{A}\"\n  data: \"first post\"\n...", KindResource,
			func(d Document) bool {
				r := d.(*Resource)
				return r.Document != nil && len(r.Content) == 1 && r.Content["blog"] != nil
			}},
		{"CRLF", "---\r\nsdmp:\r\n  {HDR}\r\n  user:\r\n    name: \"Alice\"\r\n...", KindResource,
			func(d Document) bool { return d.(*Resource).User.Name == "Alice" }},
		{"synchronize", "---\nsdmp:\n  {CHDR}\n  communication:\n    synchronize:\n      since: \"{ID}\"\n      limit: 100\n...", KindSynchronize,
			func(d Document) bool {
				c := d.(*Communication)
				return *c.Synchronize == Synchronize{Since: aliceUserID, Limit: 100} && c.Node == aliceFingerprint && c.Signer() == aliceFingerprint
			}},
		{"synchronize, no limit", "---\nsdmp:\n  {CHDR}\n  communication:\n    synchronize:\n      since: \"{A}\"\n...", KindSynchronize,
			func(d Document) bool { return d.(*Communication).Synchronize.Limit == 0 }},
		{"journal", "---\nsdmp:\n  {CHDR}\n  communication:\n    journal:\n      since: \"{ID}\"\n      entries:\n        - \"" + entry + "\"\n        - \"" + entry + "\"\n...", KindJournal,
			func(d Document) bool {
				j := d.(*Communication).Journal
				return j.Since == aliceUserID && len(j.Entries) == 2
			}},
		{"journal, nothing new", "---\nsdmp:\n  {CHDR}\n  communication:\n    journal:\n      since: \"{ID}\"\n      entries: []\n...", KindJournal,
			func(d Document) bool { return len(d.(*Communication).Journal.Entries) == 0 }},
		{"request", "---\nsdmp:\n  {CHDR}\n  communication:\n    request:\n      author: \"{B}\"\n      resource: \"{ID}\"\n...", KindRequest,
			func(d Document) bool {
				return *d.(*Communication).Request == ResourceRequest{Author: bobFingerprint, Resource: aliceUserID}
			}},
		{"response 404", "---\nsdmp:\n  {CHDR}\n  communication:\n    response:\n      status: 404\n      description: \"deleted\"\n...", KindResponse,
			func(d Document) bool {
				return *d.(*Communication).Response == Response{Status: 404, Description: "deleted"}
			}},
		{"response 400", "---\nsdmp:\n  {CHDR}\n  communication:\n    response:\n      request: \"{ID}\"\n      status: 400\n...", KindResponse,
			func(d Document) bool { return d.(*Communication).Response.Request == aliceUserID }},
		{"response 408", "---\nsdmp:\n  {CHDR}\n  communication:\n    response: {status: 408}\n...", KindResponse,
			func(d Document) bool { return d.(*Communication).Response.Status == StatusRequestTimeout }},
	} {
		d, err := DecodeDocument(docTemplate(t, c.stream))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if d.Kind() != c.kind {
			t.Errorf("%s: kind %s, want %s", c.name, d.Kind(), c.kind)
		}
		if !c.check(d) {
			t.Errorf("%s: decoded %+v", c.name, d)
		}
		if d.Signer() != aliceFingerprint {
			t.Errorf("%s: signer %s", c.name, d.Signer())
		}
		// Whatever decodes, we can write, and what we write decodes the same.
		enc, err := EncodeDocument(d)
		if err != nil {
			t.Errorf("%s: encode: %v", c.name, err)
			continue
		}
		d2, err := DecodeDocument(enc)
		if err != nil {
			t.Errorf("%s: decoding our encoding: %v\n%s", c.name, err, enc)
			continue
		}
		if enc2, _ := EncodeDocument(d2); !bytes.Equal(enc, enc2) {
			t.Errorf("%s: encoding is not stable:\n%s\n%s", c.name, enc, enc2)
		}
	}
}

func TestDecodeInvalid(t *testing.T) {
	for _, c := range []struct {
		name, stream  string
		field, reason string
	}{
		// The stream as a whole.
		{"too big", "---\nsdmp:\n  {HDR}\n  user:\n    name: \"" + strings.Repeat("x", MaxDocument) + "\"\n...", "", "more than the 1048576-byte limit"},
		{"no ---", "sdmp: {}\n...", "", `not with "---"`},
		{"no ...", "---\nsdmp: {}\n", "", `does not end with a "..." line`},
		{"tab", "---\nsdmp:\n\t{HDR}\n...", "", "line 3: a tab character"},
		{"tab in a string", "---\nsdmp:\n  {HDR}\n  user:\n    name: \"a\tb\"\n...", "", "line 7: a tab"},
		{"lone CR", "---\nsdmp:\r  {HDR}\n...", "", "carriage return"},
		{"not UTF-8", "---\nsdmp:\n  {HDR}\n  user:\n    name: \"\xff\"\n...", "", "not valid UTF-8"},
		{"two documents", "---\nsdmp:\n  {HDR}\n  user: {}\n...\n---\nsdmp: {}\n...", "", "more than one YAML document"},
		{"syntax", "---\nsdmp:\n  {HDR}\n  user: [\n...", "", "YAML:"},
		{"a list", "---\n- a\n...", "", "not a mapping"},
		{"empty", "---\n...", "", "not a mapping"},
		{"comment", "---\nsdmp:\n  {HDR}\n  # hello\n  user: {}\n...", "sdmp.user", "a comment"},
		{"line comment", "---\nsdmp:\n  {HDR}\n  user: {} # hello\n...", "sdmp.user", "a comment"},
		{"anchor", "---\nsdmp:\n  {HDR}\n  user: &u {name: \"A\"}\n...", "sdmp.user", "an anchor (&u"},
		{"alias", "---\nx: &x {name: \"A\"}\nsdmp:\n  {HDR}\n  user: *x\n...", "x", "an anchor"},
		{"merge key", "---\nsdmp:\n  {HDR}\n  user:\n    <<: {name: \"A\"}\n...", "sdmp.user.<<", "a merge key"},
		{"tag", "---\nsdmp:\n  {HDR}\n  user:\n    name: !!str Alice\n...", "sdmp.user.name", "the tag !!str"},
		{"local tag", "---\nsdmp:\n  {HDR}\n  user: !person {}\n...", "sdmp.user", "the tag !person"},
		{"duplicate key", "---\nsdmp:\n  {HDR}\n  user: {}\n  user: {}\n...", "sdmp.user", "appears twice"},
		{"binary not base64", "---\nsdmp:\n  {HDR}\nx: !!binary \"a*b\"\n...", "x", "not base64"},
		{"complex key", "---\nsdmp:\n  {HDR}\n? [a]\n: b\n...", "", "not a plain scalar"},
		{"binary key", "---\nsdmp:\n  {HDR}\n  user: {}\nx:\n  !!binary AAAA: 1\n...", "x", "not a plain scalar"},
		{"long key", "---\nsdmp:\n  {HDR}\n  user: {}\nx:\n  " + strings.Repeat("k", 300) + ": 1\n...", "x." + strings.Repeat("k", 16) + "…", "a key of 300 bytes"},
		{"two nulls", "---\nsdmp:\n  {HDR}\n  user: {}\nx:\n  ~: 1\n  null: 2\n...", "x.null", "appears twice"},
		{"date and string", "---\nsdmp:\n  {HDR}\n  user: {}\nx:\n  2015-01-01: 1\n  \"2015-01-01\": 2\n...", "x.2015-01-01", "appears twice"},
		{"surrogate escape", "---\nsdmp:\n  {HDR}\n  user:\n    name: \"\\ud800\"\n...", "", "invalid Unicode character escape"},

		// Resources.
		{"no sdmp", "---\nx: 1\n...", "sdmp", "missing"},
		{"sdmp not a mapping", "---\nsdmp: 1\n...", "sdmp", "want a mapping, got an integer"},
		{"unknown field", "---\nsdmp:\n  {HDR}\n  color: red\n  user: {}\n...", "sdmp.color", "unknown field"},
		{"no version", "---\nsdmp:\n  publisher: \"{A}\"\n  created: \"2015-06-18 12:00\"\n  user: {}\n...", "sdmp.version", "missing"},
		{"version 1.0", "---\nsdmp:\n  version: 1.0\n  publisher: \"{A}\"\n  created: \"2015-06-18 12:00\"\n  user: {}\n...", "sdmp.version", "1.0 is not supported"},
		{"version string", "---\nsdmp:\n  version: \"0.9\"\n  publisher: \"{A}\"\n  created: \"2015-06-18 12:00\"\n  user: {}\n...", "sdmp.version", "want the number 0.9, got a string"},
		{"no publisher", "---\nsdmp:\n  version: 0.9\n  created: \"2015-06-18 12:00\"\n  user: {}\n...", "sdmp.publisher", "missing"},
		{"publisher upper case", "---\nsdmp:\n  version: 0.9\n  publisher: \"" + strings.ToUpper(aliceFingerprint) + "\"\n  created: \"2015-06-18 12:00\"\n  user: {}\n...", "sdmp.publisher", "64 lowercase hex digits"},
		{"publisher a number", "---\nsdmp:\n  version: 0.9\n  publisher: " + strings.Repeat("1", 64) + "\n  created: \"2015-06-18 12:00\"\n  user: {}\n...", "sdmp.publisher", "want a string, got a number (1111111111111111…) (quote it)"},
		{"no created", "---\nsdmp:\n  version: 0.9\n  publisher: \"{A}\"\n  user: {}\n...", "sdmp.created", "missing"},
		{"created 1969", "---\nsdmp:\n  version: 0.9\n  publisher: \"{A}\"\n  created: \"1969-12-31 23:59\"\n  user: {}\n...", "sdmp.created", "the year 1969"},
		{"created year 0", "---\nsdmp:\n  version: 0.9\n  publisher: \"{A}\"\n  created: \"0000-01-01T00:00+01:00\"\n  user: {}\n...", "sdmp.created", "the year -1"},
		{"bad created", "---\nsdmp:\n  version: 0.9\n  publisher: \"{A}\"\n  created: \"yesterday\"\n  user: {}\n...", "sdmp.created", "ISO 8601"},
		{"no content", "---\nsdmp:\n  {HDR}\n...", "sdmp", "no content"},
		{"a connection message", "---\nsdmp:\n  version: 0.9\n  created: \"2015-06-18 12:00\"\n  connection:\n    g: 2\n...", "sdmp.connection", "session layer"},
		{"root key not a string", "---\nsdmp:\n  {HDR}\n1: x\n...", "1", "not a string"},
		{"name a number", "---\nsdmp:\n  {HDR}\n  user:\n    name: 123\n...", "sdmp.user.name", "want a string, got an integer"},
		{"unknown user field", "---\nsdmp:\n  {HDR}\n  user:\n    age: \"3\"\n...", "sdmp.user.age", "unknown field"},
		{"document not a mapping", "---\nsdmp:\n  {HDR}\n  document: [a]\n...", "sdmp.document", "want a mapping, got a list"},

		// Identity.
		{"identity type", "---\nsdmp:\n  {HDR}\n  identity:\n    type: robot\n    expires: \"2030-01-01 00:00\"\n    key: {KEY}\n...", "sdmp.identity.type", `want "user" or "node"`},
		{"identity no expires", "---\nsdmp:\n  {HDR}\n  identity:\n    type: user\n    key: {KEY}\n...", "sdmp.identity.expires", "missing"},
		{"identity no key", "---\nsdmp:\n  {HDR}\n  identity:\n    type: user\n    expires: \"2030-01-01 00:00\"\n...", "sdmp.identity.key", "missing"},
		{"identity key a string", "---\nsdmp:\n  {HDR}\n  identity:\n    type: user\n    expires: \"2030-01-01 00:00\"\n    key: \"MIIB\"\n...", "sdmp.identity.key", "want !!binary data, got a string"},
		{"identity key not DER", "---\nsdmp:\n  {HDR}\n  identity:\n    type: user\n    expires: \"2030-01-01 00:00\"\n    key: !!binary AAAA\n...", "sdmp.identity.key", "not a DER SubjectPublicKeyInfo"},
		{"identity key Ed25519", "---\nsdmp:\n  {HDR}\n  identity:\n    type: user\n    expires: \"2030-01-01 00:00\"\n    key: {ED25519}\n...", "sdmp.identity.key", "Ed25519 key; SDMP keys are RSA"},
		{"identity key 1024 bits", "---\nsdmp:\n  version: 0.9\n  publisher: \"c63b6f5407146c99ce647a0b94c80a8c2d2fae454142f93eea70f9f7b608ed5d\"\n  created: \"2015-06-18 12:00\"\n  identity:\n    type: user\n    expires: \"2030-01-01 00:00\"\n    key: {SMALLKEY}\n...", "sdmp.identity.key", "1024-bit RSA key is below the 2048-bit minimum"},
		{"identity of another key", "---\nsdmp:\n  version: 0.9\n  publisher: \"{B}\"\n  created: \"2015-06-18 12:00\"\n  identity:\n    type: user\n    expires: \"2030-01-01 00:00\"\n    key: {KEY}\n...", "sdmp.publisher", "published by its own key (" + aliceFingerprint},
		{"identity and relationship", "---\nsdmp:\n  {HDR}\n  identity:\n    type: user\n    expires: \"2030-01-01 00:00\"\n    key: {KEY}\n  relationship:\n    type: connection\n    user: \"{B}\"\n...", "sdmp.relationship", "no relationship"},
		{"identity unknown field", "---\nsdmp:\n  {HDR}\n  identity:\n    type: user\n    expires: \"2030-01-01 00:00\"\n    key: {KEY}\n    name: Alice\n...", "sdmp.identity.name", "unknown field"},

		// Relationship.
		{"relationship type", "---\nsdmp:\n  {HDR}\n  relationship:\n    type: friend\n    user: \"{B}\"\n...", "sdmp.relationship.type", `want "connection", "host" or "publisher"`},
		{"connection to a node", "---\nsdmp:\n  {HDR}\n  relationship:\n    type: connection\n    node: \"{B}\"\n...", "sdmp.relationship.node", "names a user, not a node"},
		{"host without node", "---\nsdmp:\n  {HDR}\n  relationship:\n    type: host\n...", "sdmp.relationship.node", "missing"},
		{"connection to oneself", "---\nsdmp:\n  {HDR}\n  relationship:\n    type: connection\n    user: \"{A}\"\n...", "sdmp.relationship", "with itself"},
		{"relationship bad fingerprint", "---\nsdmp:\n  {HDR}\n  relationship:\n    type: publisher\n    node: \"abc\"\n...", "sdmp.relationship.node", "a key fingerprint"},

		// Node.
		{"ip without port", "---\nsdmp:\n  {HDR}\n  node:\n    ips: [\"192.0.2.1\"]\n...", "sdmp.node.ips[0]", `want "ip:port"`},
		{"IPv6 unquoted", "---\nsdmp:\n  {HDR}\n  node:\n    ips:\n      - [2607:f0d0::1]:36075\n...", "", "YAML:"},
		{"IPv6 without brackets", "---\nsdmp:\n  {HDR}\n  node:\n    ips: [\"192.0.2.1:1\", \"2001:db8::1:80\"]\n...", "sdmp.node.ips[1]", `want "ip:port"`},
		{"host name", "---\nsdmp:\n  {HDR}\n  node:\n    ips: [\"example.org:80\"]\n...", "sdmp.node.ips[0]", `want "ip:port"`},
		{"ips not a list", "---\nsdmp:\n  {HDR}\n  node:\n    ips: \"192.0.2.1:80\"\n...", "sdmp.node.ips", "want a list, got a string"},

		// Encrypted.
		{"encrypted no keys", "---\nsdmp:\n  {HDR}\n  encrypted:\n    keys: []\n    data: !!binary " + base64.StdEncoding.EncodeToString(make([]byte, 40)) + "\n...", "sdmp.encrypted.keys", "0 keys"},
		{"encrypted short key", "---\nsdmp:\n  {HDR}\n  encrypted:\n    keys: [!!binary AAAA]\n    data: !!binary " + base64.StdEncoding.EncodeToString(make([]byte, 40)) + "\n...", "sdmp.encrypted.keys[0]", "3 bytes"},
		{"encrypted short data", "---\nsdmp:\n  {HDR}\n  encrypted:\n    keys: [!!binary " + base64.StdEncoding.EncodeToString(make([]byte, 256)) + "]\n    data: !!binary AAAA\n...", "sdmp.encrypted.data", "too short"},
		{"encrypted no data", "---\nsdmp:\n  {HDR}\n  encrypted:\n    keys: [!!binary " + base64.StdEncoding.EncodeToString(make([]byte, 256)) + "]\n...", "sdmp.encrypted.data", "missing"},

		// Updates.
		{"updates twice", "---\nsdmp:\n  {HDR}\n  updates: [\"{ID}\", \"{ID}\"]\n...", "sdmp.updates[1]", "listed twice"},
		{"updates empty", "---\nsdmp:\n  {HDR}\n  updates: []\n  user: {}\n...", "sdmp.updates", "empty list"},
		{"updates bad id", "---\nsdmp:\n  {HDR}\n  updates: [\"{ID}x\"]\n...", "sdmp.updates[0]", "a resource identifier"},
		{"updates a string", "---\nsdmp:\n  {HDR}\n  updates: \"{ID}\"\n...", "sdmp.updates", "want a list"},

		// Communication documents.
		{"two parts", "---\nsdmp:\n  {CHDR}\n  communication:\n    synchronize: {since: \"{ID}\"}\n    request: {author: \"{A}\", resource: \"{ID}\"}\n...", "sdmp.communication", "holds 2"},
		{"no part", "---\nsdmp:\n  {CHDR}\n  communication: {}\n...", "sdmp.communication", "holds 0"},
		{"unknown part", "---\nsdmp:\n  {CHDR}\n  communication:\n    hello: {}\n...", "sdmp.communication.hello", "unknown field"},
		{"root content", "---\nsdmp:\n  {CHDR}\n  communication:\n    synchronize: {since: \"{ID}\"}\nextra: 1\n...", "extra", "nothing at its root but sdmp"},
		{"publisher", "---\nsdmp:\n  {CHDR}\n  publisher: \"{A}\"\n  communication:\n    synchronize: {since: \"{ID}\"}\n...", "sdmp.publisher", "unknown field"},
		{"no node", "---\nsdmp:\n  version: 0.9\n  created: \"2015-06-18 12:00\"\n  communication:\n    synchronize: {since: \"{ID}\"}\n...", "sdmp.node", "missing"},
		{"node an object", "---\nsdmp:\n  version: 0.9\n  node: {name: x}\n  created: \"2015-06-18 12:00\"\n  communication:\n    synchronize: {since: \"{ID}\"}\n...", "sdmp.node", "want a string, got a mapping"},
		{"limit 0", "---\nsdmp:\n  {CHDR}\n  communication:\n    synchronize: {since: \"{ID}\", limit: 0}\n...", "sdmp.communication.synchronize.limit", "at least 1"},
		{"limit a string", "---\nsdmp:\n  {CHDR}\n  communication:\n    synchronize: {since: \"{ID}\", limit: \"10\"}\n...", "sdmp.communication.synchronize.limit", "want an integer"},
		{"limit too large", "---\nsdmp:\n  {CHDR}\n  communication:\n    synchronize: {since: \"{ID}\", limit: 99999999999999999999999}\n...", "sdmp.communication.synchronize.limit", "want an integer"},
		{"no since", "---\nsdmp:\n  {CHDR}\n  communication:\n    synchronize: {limit: 3}\n...", "sdmp.communication.synchronize.since", "missing"},
		{"bad entry", "---\nsdmp:\n  {CHDR}\n  communication:\n    journal:\n      since: \"{ID}\"\n      entries: [\"{A}/{ID}\"]\n...", "sdmp.communication.journal.entries[0]", "want a journal line"},
		{"no entries", "---\nsdmp:\n  {CHDR}\n  communication:\n    journal:\n      since: \"{ID}\"\n...", "sdmp.communication.journal.entries", "missing"},
		{"request without resource", "---\nsdmp:\n  {CHDR}\n  communication:\n    request: {author: \"{A}\"}\n...", "sdmp.communication.request.resource", "missing"},
		{"status 200", "---\nsdmp:\n  {CHDR}\n  communication:\n    response: {status: 200}\n...", "sdmp.communication.response.status", "200 is not a status of SDMP 0.9"},
		{"400 without request", "---\nsdmp:\n  {CHDR}\n  communication:\n    response: {status: 400}\n...", "sdmp.communication.response.request", "a 400 response names the request"},
		{"no status", "---\nsdmp:\n  {CHDR}\n  communication:\n    response: {description: \"x\"}\n...", "sdmp.communication.response.status", "missing"},
	} {
		_, err := DecodeDocument(docTemplate(t, c.stream))
		var de *DocumentError
		if !errors.As(err, &de) {
			t.Errorf("%s: error %v, want a *DocumentError", c.name, err)
			continue
		}
		if de.Field != c.field || !strings.Contains(de.Reason, c.reason) {
			t.Errorf("%s: %q, want field %q and a reason saying %q", c.name, err, c.field, c.reason)
		}
		if de.Status() != 400 || !strings.HasPrefix(err.Error(), "sdmp: document: ") {
			t.Errorf("%s: status %d, error %q", c.name, de.Status(), err)
		}
	}
}
