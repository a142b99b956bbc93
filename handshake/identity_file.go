package handshake

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// A key file holds both private keys of an identity as two standard PKCS#8
// PEM blocks ("PRIVATE KEY"), the Ed25519 key first, after a few comment
// lines that give the fingerprint and the public form:
//
//	# pydevts identity: keep this file secret (mode 0600)
//	# fingerprint: 3c1f...
//	# public: pydevts1:Yh2...
//	-----BEGIN PRIVATE KEY-----
//	MC4CAQAwBQYDK2VwBCIEI...   (Ed25519)
//	-----END PRIVATE KEY-----
//	-----BEGIN PRIVATE KEY-----
//	MC4CAQAwBQYDK2VuBCIEI...   (X25519)
//	-----END PRIVATE KEY-----
//
// PKCS#8 rather than a format of our own, so that standard tools read it:
// `openssl pkey -in node.key -pubout` prints the signing key, which is what
// checks an SDMP signature with openssl.

// keyFileHeader is the first line of every key file MarshalKeyFile writes.
const keyFileHeader = "# pydevts identity: keep this file secret (mode 0600)\n"

// maxKeyFileSize bounds what LoadKeyFile reads; a real key file is about
// 600 bytes, so anything near this is the wrong file.
const maxKeyFileSize = 64 << 10

// MarshalKeyFile returns the key file contents for id.
func MarshalKeyFile(id *Identity) ([]byte, error) {
	signDER, err := x509.MarshalPKCS8PrivateKey(id.sign)
	if err != nil {
		return nil, fmt.Errorf("handshake: encoding the Ed25519 key: %v", err)
	}
	dhDER, err := x509.MarshalPKCS8PrivateKey(id.dh)
	if err != nil {
		return nil, fmt.Errorf("handshake: encoding the X25519 key: %v", err)
	}
	var b bytes.Buffer
	b.WriteString(keyFileHeader)
	fmt.Fprintf(&b, "# fingerprint: %s\n", id.Fingerprint())
	fmt.Fprintf(&b, "# public: %s\n", id.card)
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: signDER})
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: dhDER})
	return b.Bytes(), nil
}

// ParseKeyFile reads key file contents made by MarshalKeyFile.
func ParseKeyFile(data []byte) (*Identity, error) {
	var (
		dh    *ecdh.PrivateKey
		sign  ed25519.PrivateKey
		found int
	)
	rest := data
	for {
		block, next := pem.Decode(rest)
		if block == nil {
			if bytes.Contains(rest, []byte("-----BEGIN")) {
				return nil, errors.New("key file is truncated or damaged: a PEM block does not end")
			}
			break
		}
		rest = next
		found++
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("key file holds a %q PEM block; want only PKCS#8 \"PRIVATE KEY\" blocks", block.Type)
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("key file: private key %d is damaged (wrong length or encoding): %v", found, err)
		}
		switch k := key.(type) {
		case ed25519.PrivateKey:
			if sign != nil {
				return nil, errors.New("key file holds two Ed25519 keys")
			}
			sign = k
		case *ecdh.PrivateKey:
			if k.Curve() != ecdh.X25519() {
				return nil, errors.New("key file holds an ECDH key that is not X25519")
			}
			if dh != nil {
				return nil, errors.New("key file holds two X25519 keys")
			}
			dh = k
		default:
			return nil, fmt.Errorf("key file holds a %T; want one Ed25519 and one X25519 key", key)
		}
	}
	switch {
	case found == 0 && len(data) > 0 && (bytes.HasPrefix(data, []byte(keyFileHeader)) || bytes.HasPrefix([]byte(keyFileHeader), data)):
		return nil, errors.New("key file is truncated: it has the pydevts header but no key")
	case found == 0:
		return nil, errors.New("no private key found (not a pydevts key file, or empty)")
	case sign == nil:
		return nil, errors.New("key file has no Ed25519 signing key (truncated?)")
	case dh == nil:
		return nil, errors.New("key file has no X25519 key (truncated?)")
	}
	return IdentityFromSeeds(dh.Bytes(), sign.Seed())
}

// LoadKeyFile reads the identity in the key file at path. On Unix it refuses
// a file that users other than the owner may read or write, as ssh does,
// because such a key may already be known to others.
func LoadKeyFile(path string) (*Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("handshake: key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("handshake: key file %s has mode %04o, so others may read it; it must be 0600 (chmod 600 %s)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("handshake: reading %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("handshake: %s is larger than %d bytes; not a key file", path, maxKeyFileSize)
	}
	id, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("handshake: %s: %w", path, err)
	}
	return id, nil
}

// WriteKeyFile writes id to a new key file at path with mode 0600. It fails
// with an error that wraps fs.ErrExist when path exists, unless overwrite is
// set; then the old file is replaced in one rename, so a crash leaves either
// the old key or the new one, never a torn file.
func WriteKeyFile(path string, id *Identity, overwrite bool) (err error) {
	data, err := MarshalKeyFile(id)
	if err != nil {
		return err
	}
	if !overwrite {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		if err := writeSync(f, data); err != nil {
			os.Remove(path)
			return fmt.Errorf("handshake: writing %s: %w", path, err)
		}
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	tmp := f.Name()
	if err := writeSync(f, data); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("handshake: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("handshake: %w", err)
	}
	return nil
}

func writeSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
