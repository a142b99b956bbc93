package sdmp

import (
	"crypto/rsa"
	"crypto/x509"
	"net/netip"
	"slices"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// A Resource is an SDMP resource (docs/resources): a document published by
// a user or a node, named by its resource identifier (ResourceID of its
// stream) and signed by its publisher.
//
// Identity and Relationship make it an identity or a relationship
// document; User, Node, Encrypted, Document and Content are the general
// schemas and may be combined; Updates lists the resources it replaces.
// A resource with Updates and nothing else deletes them.
type Resource struct {
	// Publisher is sdmp.publisher: the fingerprint of the key that signs
	// the resource, a user's or a node's (D11).
	Publisher string
	// Created is sdmp.created, for people only: nobody can verify it.
	Created time.Time
	// Updates is sdmp.updates: the identifiers of the resources this one
	// replaces (revokes).
	Updates []string

	Identity     *Identity
	Relationship *Relationship
	User         *UserInfo
	Node         *NodeInfo
	Encrypted    *Encrypted
	// Document is sdmp.document, the spec's reserved place for general
	// unencrypted content: any mapping, within the limits of D4.
	Document *yaml.Node
	// Content holds the keys at the root other than sdmp: application
	// data, as the spec's examples put it (a "blog" key, say). Any YAML
	// within the limits of D4. They are written sorted by key.
	Content map[string]*yaml.Node
}

// An Identity (sdmp.identity) creates a user or a node: it publishes the
// key that signs for them, and is signed by that key (D1).
type Identity struct {
	// Type is IdentityUser or IdentityNode.
	Type string
	// Expires is when the key stops being valid: after it, the key must
	// not be used, and documents signed with it are refused.
	Expires time.Time
	// Key is the identity's public key, carried as its DER
	// SubjectPublicKeyInfo in !!binary (D1); the document's publisher is
	// its fingerprint.
	Key *rsa.PublicKey
}

// The identity types.
const (
	IdentityUser = "user"
	IdentityNode = "node"
)

// Expired reports whether the identity's key is past its expiry at now.
func (i *Identity) Expired(now time.Time) bool { return !now.Before(i.Expires) }

// A Relationship (sdmp.relationship) is one relationship of the publishing
// user: with another user (connection: User is set) or with a node that
// stores and forwards (host) or may also publish (publisher) for the user
// (Node is set).
type Relationship struct {
	Type string
	User string // the other user's fingerprint, for a connection
	Node string // the node's fingerprint, for host and publisher
}

// The relationship types.
const (
	RelationshipConnection = "connection"
	RelationshipHost       = "host"
	RelationshipPublisher  = "publisher"
)

// UserInfo is sdmp.user, what people see of a user.
type UserInfo struct {
	Name  string
	About string // tells apart people of the same name
}

// NodeInfo is sdmp.node in a resource: a node's name and where it
// listens. Each address is "ip:port", IPv6 in brackets; the port is
// required.
type NodeInfo struct {
	Name string
	IPs  []string
}

// The fields each mapping may hold. Any other key under sdmp is refused;
// free content lives under sdmp.document and at the root.
var (
	symlResourceFields     = []string{"version", "publisher", "created", "updates", "identity", "relationship", "user", "node", "encrypted", "document"}
	symlIdentityFields     = []string{"type", "expires", "key"}
	symlRelationshipFields = []string{"type", "user", "node"}
	symlUserFields         = []string{"name", "about"}
	symlNodeFields         = []string{"name", "ips"}
	symlEncryptedFields    = []string{"keys", "data"}
)

// Kind is KindIdentity, KindRelationship, KindDelete or KindResource.
func (r *Resource) Kind() Kind {
	switch {
	case r.Identity != nil:
		return KindIdentity
	case r.Relationship != nil:
		return KindRelationship
	case r.IsDelete():
		return KindDelete
	}
	return KindResource
}

// Signer is the publisher.
func (r *Resource) Signer() string { return r.Publisher }

func (*Resource) isDocument() {}

// IsDelete reports whether the resource only deletes others: it has
// Updates and no content at all (docs/resources).
func (r *Resource) IsDelete() bool {
	return len(r.Updates) > 0 && r.Identity == nil && r.Relationship == nil && r.User == nil &&
		r.Node == nil && r.Encrypted == nil && r.Document == nil && len(r.Content) == 0
}

func symlDecodeResource(root, sdmp *yaml.Node) (*Resource, error) {
	f, err := symlFields(sdmp, "sdmp", symlResourceFields...)
	if err != nil {
		return nil, err
	}
	if err := symlRequire(f, "sdmp", "version", "publisher", "created"); err != nil {
		return nil, err
	}
	r := &Resource{}
	if err := symlVersion(f["version"], "sdmp.version"); err != nil {
		return nil, err
	}
	if r.Publisher, err = symlHex64(f["publisher"], "sdmp.publisher", "a key fingerprint"); err != nil {
		return nil, err
	}
	if r.Created, err = symlTime(f["created"], "sdmp.created"); err != nil {
		return nil, err
	}
	if n := f["updates"]; n != nil {
		err := symlList(n, "sdmp.updates", func(n *yaml.Node, path string) error {
			id, err := symlHex64(n, path, "a resource identifier")
			if err == nil && slices.Contains(r.Updates, id) {
				return symlErrorf(path, "%s is listed twice", id)
			}
			r.Updates = append(r.Updates, id)
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(r.Updates) == 0 {
			return nil, symlErrorf("sdmp.updates", "an empty list; leave it out")
		}
	}
	if n := f["identity"]; n != nil {
		if r.Identity, err = symlDecodeIdentity(n); err != nil {
			return nil, err
		}
	}
	if n := f["relationship"]; n != nil {
		if r.Relationship, err = symlDecodeRelationship(n); err != nil {
			return nil, err
		}
	}
	if n := f["user"]; n != nil {
		if r.User, err = symlDecodeUser(n); err != nil {
			return nil, err
		}
	}
	if n := f["node"]; n != nil {
		if r.Node, err = symlDecodeNode(n); err != nil {
			return nil, err
		}
	}
	if n := f["encrypted"]; n != nil {
		if r.Encrypted, err = symlDecodeEncrypted(n); err != nil {
			return nil, err
		}
	}
	if n := f["document"]; n != nil {
		if n.Kind != yaml.MappingNode {
			return nil, symlErrorf("sdmp.document", "want a mapping, got %s", symlDescribe(n))
		}
		r.Document = n
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if k.Tag == "!!str" && k.Value == "sdmp" {
			continue
		}
		if k.Tag != "!!str" {
			return nil, symlErrorf(k.Value, "a root key that is not a string")
		}
		if r.Content == nil {
			r.Content = make(map[string]*yaml.Node)
		}
		r.Content[k.Value] = root.Content[i+1]
	}
	if err := r.checkShape(); err != nil {
		return nil, err
	}
	return r, nil
}

// checkShape checks the rules between a resource's parts.
func (r *Resource) checkShape() error {
	if r.Identity != nil && r.Relationship != nil {
		return symlErrorf("sdmp.relationship", "an identity document holds no relationship; publish it separately")
	}
	if r.Identity != nil && Fingerprint(r.Identity.Key) != r.Publisher {
		return symlErrorf("sdmp.publisher", "an identity document is published by its own key (%s), not %s", Fingerprint(r.Identity.Key), r.Publisher)
	}
	if r.Relationship != nil && (r.Relationship.User == r.Publisher || r.Relationship.Node == r.Publisher) {
		return symlErrorf("sdmp.relationship", "a relationship of the publisher with itself")
	}
	if r.Kind() == KindResource && r.User == nil && r.Node == nil && r.Encrypted == nil && r.Document == nil && len(r.Content) == 0 {
		return symlErrorf("sdmp", "a resource with no content: no identity, relationship, user, node, encrypted, document, updates or root content")
	}
	return nil
}

func symlDecodeIdentity(n *yaml.Node) (*Identity, error) {
	const at = "sdmp.identity"
	f, err := symlFields(n, at, symlIdentityFields...)
	if err != nil {
		return nil, err
	}
	if err := symlRequire(f, at, symlIdentityFields...); err != nil {
		return nil, err
	}
	id := &Identity{}
	if id.Type, err = symlString(f["type"], at+".type"); err != nil {
		return nil, err
	}
	if id.Type != IdentityUser && id.Type != IdentityNode {
		return nil, symlErrorf(at+".type", "want %q or %q, got %q", IdentityUser, IdentityNode, symlSnippet([]byte(id.Type), false))
	}
	if id.Expires, err = symlTime(f["expires"], at+".expires"); err != nil {
		return nil, err
	}
	der, err := symlBinary(f["key"], at+".key")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, symlErrorf(at+".key", "not a DER SubjectPublicKeyInfo: %v", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, symlErrorf(at+".key", "a %s key; SDMP keys are RSA", symlKeyKind(k))
	}
	if err := symlCheckKeySize(pub); err != nil {
		return nil, symlErrorf(at+".key", "%s", err.Error()[len("sdmp: "):])
	}
	id.Key = pub
	return id, nil
}

func (id *Identity) node() (*yaml.Node, error) {
	const at = "sdmp.identity"
	if id.Key == nil || id.Key.N == nil {
		return nil, symlErrorf(at+".key", "missing")
	}
	der, err := x509.MarshalPKIXPublicKey(id.Key)
	if err != nil {
		return nil, symlErrorf(at+".key", "cannot be encoded: %v", err)
	}
	expires, err := symlCreated(id.Expires, at+".expires")
	if err != nil {
		return nil, err
	}
	return symlMapNode("type", symlStrNode(id.Type), "expires", expires, "key", symlBinaryNode(der)), nil
}

func symlDecodeRelationship(n *yaml.Node) (*Relationship, error) {
	const at = "sdmp.relationship"
	f, err := symlFields(n, at, symlRelationshipFields...)
	if err != nil {
		return nil, err
	}
	if err := symlRequire(f, at, "type"); err != nil {
		return nil, err
	}
	rel := &Relationship{}
	if rel.Type, err = symlString(f["type"], at+".type"); err != nil {
		return nil, err
	}
	var need, forbid string
	switch rel.Type {
	case RelationshipConnection:
		need, forbid = "user", "node"
	case RelationshipHost, RelationshipPublisher:
		need, forbid = "node", "user"
	default:
		return nil, symlErrorf(at+".type", "want %q, %q or %q, got %q", RelationshipConnection, RelationshipHost, RelationshipPublisher, symlSnippet([]byte(rel.Type), false))
	}
	if f[forbid] != nil {
		return nil, symlErrorf(at+"."+forbid, "a %s relationship names a %s, not a %s", rel.Type, need, forbid)
	}
	if err := symlRequire(f, at, need); err != nil {
		return nil, err
	}
	fp, err := symlHex64(f[need], at+"."+need, "a key fingerprint")
	if err != nil {
		return nil, err
	}
	if need == "user" {
		rel.User = fp
	} else {
		rel.Node = fp
	}
	return rel, nil
}

func (rel *Relationship) node() *yaml.Node {
	var user, node *yaml.Node
	if rel.User != "" {
		user = symlStrNode(rel.User)
	}
	if rel.Node != "" {
		node = symlStrNode(rel.Node)
	}
	return symlMapNode("type", symlStrNode(rel.Type), "user", user, "node", node)
}

func symlDecodeUser(n *yaml.Node) (*UserInfo, error) {
	const at = "sdmp.user"
	f, err := symlFields(n, at, symlUserFields...)
	if err != nil {
		return nil, err
	}
	u := &UserInfo{}
	if v := f["name"]; v != nil {
		if u.Name, err = symlString(v, at+".name"); err != nil {
			return nil, err
		}
	}
	if v := f["about"]; v != nil {
		if u.About, err = symlString(v, at+".about"); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func (u *UserInfo) node() *yaml.Node {
	return symlMapNode("name", symlOptStr(u.Name), "about", symlOptStr(u.About))
}

func symlDecodeNode(n *yaml.Node) (*NodeInfo, error) {
	const at = "sdmp.node"
	f, err := symlFields(n, at, symlNodeFields...)
	if err != nil {
		return nil, err
	}
	info := &NodeInfo{}
	if v := f["name"]; v != nil {
		if info.Name, err = symlString(v, at+".name"); err != nil {
			return nil, err
		}
	}
	if v := f["ips"]; v != nil {
		err := symlList(v, at+".ips", func(n *yaml.Node, path string) error {
			s, err := symlString(n, path)
			if err != nil {
				return err
			}
			if _, err := netip.ParseAddrPort(s); err != nil {
				return symlErrorf(path, "want \"ip:port\" (IPv6 as \"[ip]:port\"), got %q", symlSnippet([]byte(s), false))
			}
			info.IPs = append(info.IPs, s)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return info, nil
}

func (info *NodeInfo) node() *yaml.Node {
	var ips *yaml.Node
	if info.IPs != nil {
		ips = symlStrList(info.IPs)
	}
	return symlMapNode("name", symlOptStr(info.Name), "ips", ips)
}

func symlOptStr(s string) *yaml.Node {
	if s == "" {
		return nil
	}
	return symlStrNode(s)
}

func (r *Resource) node() (*yaml.Node, error) {
	created, err := symlCreated(r.Created, "sdmp.created")
	if err != nil {
		return nil, err
	}
	var updates, identity, relationship, user, node, encrypted *yaml.Node
	if r.Updates != nil {
		updates = symlStrList(r.Updates)
	}
	if r.Identity != nil {
		if identity, err = r.Identity.node(); err != nil {
			return nil, err
		}
	}
	if r.Relationship != nil {
		relationship = r.Relationship.node()
	}
	if r.User != nil {
		user = r.User.node()
	}
	if r.Node != nil {
		node = r.Node.node()
	}
	if r.Encrypted != nil {
		encrypted = r.Encrypted.node()
	}
	sdmp := symlMapNode(
		"version", symlVersionNode(),
		"publisher", symlStrNode(r.Publisher),
		"created", created,
		"updates", updates,
		"identity", identity,
		"relationship", relationship,
		"user", user,
		"node", node,
		"encrypted", encrypted,
		"document", r.Document,
	)
	root := symlMapNode("sdmp", sdmp)
	keys := make([]string, 0, len(r.Content))
	for k := range r.Content {
		if k == "sdmp" {
			return nil, symlErrorf("sdmp", "Content has an sdmp key; the sdmp mapping is made from the other fields")
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if r.Content[k] == nil {
			return nil, symlErrorf(k, "no value")
		}
		root.Content = append(root.Content, symlStrNode(k), r.Content[k])
	}
	return root, nil
}
