package sdmp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// Encrypted content (sdmp.encrypted) as D13 fills in what the spec leaves
// open. The spec says: one single-use AES key per recipient, encrypted to
// the recipient's RSA key, and the content encrypted under the AES key. It
// names no mode, no IV and no RSA padding. We use:
//
//	keys[i] = RSA-OAEP(SHA-256, MGF1-SHA-256, no label)(recipient i's key, K)
//	data    = nonce (12 bytes) ‖ AES-256-GCM(K, nonce, plaintext, no AAD)
//
// K is 32 random bytes, fresh for each resource, so one random nonce is
// safe. AEAD rather than the CBC of later SDMP drafts, and OAEP rather than
// PKCS#1 v1.5: both of those give padding oracles to whoever can ask a node
// to decrypt. keys does not say whose each one is; a recipient tries each
// (the spec has no mapping either). The plaintext is an SDMP YAML stream,
// or a whole SYML file when the publisher signs the inner document too.

// Encrypted is sdmp.encrypted: the content's key, wrapped for each
// recipient, and the content itself.
type Encrypted struct {
	Keys [][]byte
	Data []byte
}

// symlMaxRecipients bounds len(Encrypted.Keys). A recipient tries every
// key, an RSA decryption each (about a millisecond for 2048 bits); 256
// recipients is a large group, and a resource with more would cost a node
// a noticeable share of a CPU-second to look at.
const symlMaxRecipients = 256

// symlGCMOverhead is the nonce and the tag around a ciphertext.
const symlGCMOverhead = 12 + 16

// SealEncrypted encrypts plaintext for each recipient (D13). The plaintext
// must be a YAML stream ("---" through "...") or a SYML file; the
// recipients' keys must be at least MinKeyBits.
func SealEncrypted(plaintext []byte, recipients ...*rsa.PublicKey) (*Encrypted, error) {
	if err := symlCheckInner(plaintext); err != nil {
		return nil, err
	}
	if len(recipients) == 0 || len(recipients) > symlMaxRecipients {
		return nil, fmt.Errorf("sdmp: encrypted: %d recipients; want 1 to %d", len(recipients), symlMaxRecipients)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("sdmp: encrypted: %w", err)
	}
	e := &Encrypted{}
	for i, pub := range recipients {
		if err := symlCheckKeySize(pub); err != nil {
			return nil, fmt.Errorf("sdmp: encrypted: recipient %d: %s", i, err.Error()[len("sdmp: "):])
		}
		wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
		if err != nil {
			return nil, fmt.Errorf("sdmp: encrypted: recipient %d: %w", i, err)
		}
		e.Keys = append(e.Keys, wrapped)
	}
	aead, err := symlGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 12, 12+len(plaintext)+16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("sdmp: encrypted: %w", err)
	}
	e.Data = aead.Seal(nonce, nonce, plaintext, nil)
	return e, nil
}

// Open decrypts the content with priv: it tries each wrapped key, and
// returns the plaintext of the first that opens the data. An error means
// the content is not for this key, or was damaged.
func (e *Encrypted) Open(priv *rsa.PrivateKey) ([]byte, error) {
	if priv == nil {
		return nil, errors.New("sdmp: encrypted: no private key")
	}
	if len(e.Data) < symlGCMOverhead {
		return nil, fmt.Errorf("sdmp: encrypted: data is %d bytes, too short to hold a nonce and a tag", len(e.Data))
	}
	damaged := false
	for _, wrapped := range e.Keys {
		if len(wrapped) != priv.Size() {
			continue // for a key of another size
		}
		key, err := rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped, nil)
		if err != nil || len(key) != 32 {
			continue
		}
		aead, err := symlGCM(key)
		if err != nil {
			return nil, err
		}
		plain, err := aead.Open(nil, e.Data[:12], e.Data[12:], nil)
		if err != nil {
			damaged = true
			continue
		}
		return plain, nil
	}
	if damaged {
		return nil, errors.New("sdmp: encrypted: a key is for us, but the data does not authenticate (damaged or altered)")
	}
	return nil, fmt.Errorf("sdmp: encrypted: none of the %d keys is for key %.16s…", len(e.Keys), Fingerprint(&priv.PublicKey))
}

func symlGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sdmp: encrypted: %w", err)
	}
	return cipher.NewGCM(block)
}

// symlCheckInner checks that plaintext is what sdmp.encrypted may hold.
func symlCheckInner(plaintext []byte) error {
	if symlCheckStream(plaintext) == nil {
		return nil
	}
	if _, err := ParseSYML(plaintext); err == nil {
		return nil
	}
	return errors.New(`sdmp: encrypted: the plaintext is neither a YAML stream ("---" through "...") nor a SYML file`)
}

func symlDecodeEncrypted(n *yaml.Node) (*Encrypted, error) {
	const at = "sdmp.encrypted"
	f, err := symlFields(n, at, symlEncryptedFields...)
	if err != nil {
		return nil, err
	}
	if err := symlRequire(f, at, symlEncryptedFields...); err != nil {
		return nil, err
	}
	e := &Encrypted{}
	err = symlList(f["keys"], at+".keys", func(n *yaml.Node, path string) error {
		k, err := symlBinary(n, path)
		if err != nil {
			return err
		}
		if len(k)*8 < MinKeyBits || len(k)*8 > symlMaxKeyBits {
			return symlErrorf(path, "%d bytes; an RSA-encrypted key is as long as a key of %d to %d bits", len(k), MinKeyBits, symlMaxKeyBits)
		}
		e.Keys = append(e.Keys, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(e.Keys) == 0 || len(e.Keys) > symlMaxRecipients {
		return nil, symlErrorf(at+".keys", "%d keys; want 1 to %d", len(e.Keys), symlMaxRecipients)
	}
	if e.Data, err = symlBinary(f["data"], at+".data"); err != nil {
		return nil, err
	}
	if len(e.Data) < symlGCMOverhead {
		return nil, symlErrorf(at+".data", "%d bytes, too short to hold a nonce and a tag (%d bytes)", len(e.Data), symlGCMOverhead)
	}
	return e, nil
}

func (e *Encrypted) node() *yaml.Node {
	keys := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, k := range e.Keys {
		keys.Content = append(keys.Content, symlBinaryNode(k))
	}
	return symlMapNode("keys", keys, "data", symlBinaryNode(e.Data))
}
