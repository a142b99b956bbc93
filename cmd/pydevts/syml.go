package main

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/pydevts/pydevts/sdmp"
)

// sign and verify work offline on SDMP documents, Signed YAML files: a
// base64 RSASSA-PSS signature and then the YAML stream from "---" through
// "...". The keys are RSA PEM files as openssl writes them.

// symlMaxKeyFile bounds what we read as a PEM key: a 16384-bit private
// key is about 12 KiB of PEM, so anything larger is the wrong file.
const symlMaxKeyFile = 64 << 10

// runSign: pydevts sign --key PRIVATE.pem [-o OUT] [--syml] FILE
func runSign(args []string, std stdio) error {
	fl := newFlags("sign", "FILE", std.errOut)
	keyFile := fl.String("key", "", "the signer's RSA private key, a PEM `file` (PKCS#8 or PKCS#1, as openssl genpkey writes it)")
	outFile := fl.String("o", "", "write the signed document to `file` instead of stdout")
	anyYAML := fl.Bool("syml", false, "sign any YAML stream (\"---\" through \"...\"), not only an SDMP document whose signer is the key")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the YAML file to sign (- for stdin)"); err != nil {
		return err
	}
	if *keyFile == "" {
		return fmt.Errorf("%w: --key is required (an RSA private key; make one with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out key.pem)", errUsage)
	}
	key, err := symlLoadPrivateKey(*keyFile)
	if err != nil {
		return err
	}
	in, err := symlReadInput(pos[0], std.in)
	if err != nil {
		return err
	}
	if _, err := sdmp.ParseSYML(in); err == nil {
		return fmt.Errorf("%s is already signed (a signature precedes its \"---\")", pos[0])
	}
	// Editors end files with a line break; it is not part of the stream
	// (D3), so it is neither signed nor written.
	stream := in
	if bytes.HasSuffix(stream, []byte("...\r\n")) {
		stream = stream[:len(stream)-2]
	} else if bytes.HasSuffix(stream, []byte("...\n")) {
		stream = stream[:len(stream)-1]
	}
	if !*anyYAML {
		d, err := sdmp.DecodeDocument(stream)
		if err != nil {
			return fmt.Errorf("%s is not an SDMP document: %v (--syml signs any YAML stream)", pos[0], err)
		}
		if fp := sdmp.Fingerprint(&key.PublicKey); d.Signer() != fp {
			return fmt.Errorf("the document names signer %s, but the key is %s (--syml signs anyway)", d.Signer(), fp)
		}
	}
	file, err := sdmp.SignSYML(key, stream)
	if err != nil {
		return err
	}
	if *outFile == "" {
		_, err = std.out.Write(file)
	} else {
		err = os.WriteFile(*outFile, file, 0o644)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(std.errOut, "signed by %s, resource %s\n", sdmp.Fingerprint(&key.PublicKey), sdmp.ResourceID(stream))
	return nil
}

// runVerify: pydevts verify --key PUBLIC.pem [--syml] FILE
func runVerify(args []string, std stdio) error {
	fl := newFlags("verify", "FILE", std.errOut)
	keyFile := fl.String("key", "", "the signer's RSA public key, a PEM `file` (SubjectPublicKeyInfo or PKCS#1, as openssl pkey -pubout writes it)")
	anyYAML := fl.Bool("syml", false, "check only the signature, of any YAML stream, not the SDMP document and its signer")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the signed file to verify (- for stdin)"); err != nil {
		return err
	}
	if *keyFile == "" {
		return fmt.Errorf("%w: --key is required (the signer's public key; from a private key: openssl pkey -in key.pem -pubout -out pub.pem)", errUsage)
	}
	data, err := symlReadFile(*keyFile, nil)
	if err != nil {
		return err
	}
	pub, err := sdmp.ParsePublicKeyPEM(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyFile, err)
	}
	in, err := symlReadInput(pos[0], std.in)
	if err != nil {
		return err
	}
	s, err := sdmp.ParseSYML(in)
	if err != nil {
		return err
	}
	if err := s.Verify(pub); err != nil {
		return err
	}
	id := sdmp.ResourceID(s.Stream)
	what := "a YAML stream"
	if !*anyYAML {
		d, err := sdmp.DecodeDocument(s.Stream)
		if err != nil {
			return fmt.Errorf("the signature verifies, but this is not an SDMP document: %v (--syml checks the signature only)", err)
		}
		if fp := sdmp.Fingerprint(pub); d.Signer() != fp {
			return fmt.Errorf("the signature verifies, but the document names signer %s, not this key (%s)", d.Signer(), fp)
		}
		what = "an SDMP " + string(d.Kind()) + " document"
	}
	fmt.Fprintln(std.out, id)
	fmt.Fprintf(std.errOut, "verified: %s signed by %s\n", what, sdmp.Fingerprint(pub))
	return nil
}

// symlLoadPrivateKey reads an RSA private key file. Like the identity key
// files of keygen, it must not be readable by others (checked after
// parsing, so that a public key given by mistake is named as such).
func symlLoadPrivateKey(path string) (*rsa.PrivateKey, error) {
	var mode os.FileMode
	data, err := symlReadFile(path, func(fi os.FileInfo) error { mode = fi.Mode().Perm(); return nil })
	if err != nil {
		return nil, err
	}
	key, err := sdmp.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if runtime.GOOS != "windows" && mode&0o077 != 0 {
		return nil, fmt.Errorf("private key %s has mode %04o, so others may read it; it must be 0600 (chmod 600 %s)", path, mode, path)
	}
	return key, nil
}

// symlReadFile reads a small file (a key), checking it first.
func symlReadFile(path string, check func(os.FileInfo) error) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if check != nil {
		if err := check(fi); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, symlMaxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > symlMaxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a key file", path, symlMaxKeyFile)
	}
	return data, nil
}

// symlReadInput reads the document to sign or verify, from a file or
// stdin ("-"), refusing anything larger than a document can be: a stream
// of sdmp.MaxDocument bytes plus a signature of the largest key.
func symlReadInput(path string, stdin io.Reader) ([]byte, error) {
	const limit = sdmp.MaxDocument + 8<<10
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes, more than an SDMP document may be", path, limit)
	}
	if len(data) == 0 {
		return nil, errors.New(path + " is empty")
	}
	return data, nil
}
