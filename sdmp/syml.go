package sdmp

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// A SYML file (Signed YAML 0.8) is a base64 signature, a line break, and a
// YAML stream that starts with "---" and ends with "...":
//
//	pZ3t...base64, 76 characters a line...
//	...Qw==
//	---
//	sdmp:
//	  version: 0.9
//	...
//
// The stream's exact bytes are what is signed and hashed; they are never
// re-serialised (D3), so any YAML library, any whitespace and any line
// ending can be verified as written. "-" is not in the base64 alphabet, so
// the first "-" of the file starts the stream.

// symlSaltLength is the PSS salt we sign with: 32 bytes, the length of a
// SHA-256 digest, which is what the only other SYML implementation
// (PyCrypto's PKCS1_PSS) uses and what RFC 8017 section 9.1 recommends.
// On verification the salt length is read from the signature (D2).
const symlSaltLength = 32

// symlLineWidth is how many base64 characters we put on a signature line:
// 76, the MIME limit of RFC 2045 that SYML 0.8 refers to (D2).
const symlLineWidth = 76

// symlMaxSignatureBlock bounds the text before "---": the signature of
// the largest key we accept (symlMaxKeyBits, 2048 bytes) is 2732 base64
// characters, 37 CRLF-ended lines of 76; 8 KiB leaves room for any
// wrapping and still stops a file of garbage early.
const symlMaxSignatureBlock = 8 << 10

// A SYML is a parsed Signed YAML file: the signature and the raw YAML
// stream bytes, from "---" through "..." (never re-serialised).
type SYML struct {
	Signature []byte
	Stream    []byte
}

// ParseSYML splits a SYML file into its signature and stream and checks
// its form, strictly (D2, D3):
//
//   - the signature block is non-empty, holds only the standard base64
//     alphabet with "=" padding and line breaks ("\n" or "\r\n"), and
//     ends with a line break;
//   - the stream starts at the first "-" with "---" and a line break or a
//     space, and ends with a line that is exactly "...";
//   - after "..." only one line break may follow ("\n", or "\r\n" in a
//     file written with CRLF); it is not part of the stream.
//
// ParseSYML does not verify the signature (see Verify) and does not look
// inside the YAML (see DecodeDocument). The returned slices are copies.
func ParseSYML(b []byte) (*SYML, error) {
	start := bytes.IndexByte(b, '-')
	if start < 0 {
		return nil, errors.New(`sdmp: SYML: no YAML stream: the file has no "---"`)
	}
	if start == 0 {
		return nil, errors.New(`sdmp: SYML: no signature before "---"`)
	}
	if b[start-1] != '\n' && !bytes.HasPrefix(b[start:], []byte("---")) {
		// A "-" inside the signature: base64url, or not base64 at all.
		return nil, fmt.Errorf("sdmp: SYML: signature line %d: '-' is not a standard base64 character (base64url?)", symlLine(b, start))
	}
	sig, err := symlDecodeSignature(b[:start])
	if err != nil {
		return nil, err
	}
	stream := b[start:]
	// One line break after "..." is allowed and is not part of the stream.
	if bytes.HasSuffix(stream, []byte("\r\n")) {
		stream = stream[:len(stream)-2]
	} else if bytes.HasSuffix(stream, []byte("\n")) {
		stream = stream[:len(stream)-1]
	}
	if err := symlCheckStream(stream); err != nil {
		return nil, err
	}
	return &SYML{Signature: sig, Stream: bytes.Clone(stream)}, nil
}

// symlDecodeSignature decodes the signature block: base64 lines, each
// ending with "\n" or "\r\n". SYML 0.8 allows lines of any length and
// calls any other character an error.
func symlDecodeSignature(block []byte) ([]byte, error) {
	if len(block) > symlMaxSignatureBlock {
		return nil, fmt.Errorf("sdmp: SYML: the signature block is %d bytes, longer than a %d-bit key's signature", len(block), symlMaxKeyBits)
	}
	if block[len(block)-1] != '\n' {
		return nil, errors.New(`sdmp: SYML: "---" does not start a line: the signature block must end with a line break`)
	}
	b64 := make([]byte, 0, len(block))
	for i := 0; i < len(block); i++ {
		c := block[i]
		switch {
		case c == '\n':
		case c == '\r':
			if i+1 == len(block) || block[i+1] != '\n' {
				return nil, fmt.Errorf("sdmp: SYML: signature line %d: a carriage return not followed by a line feed", symlLine(block, i))
			}
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/', c == '=':
			b64 = append(b64, c)
		default:
			return nil, fmt.Errorf("sdmp: SYML: signature line %d: %q is not a base64 character", symlLine(block, i), c)
		}
	}
	if len(b64) == 0 {
		return nil, errors.New(`sdmp: SYML: no signature before "---"`)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(string(b64))
	if err != nil {
		return nil, fmt.Errorf("sdmp: SYML: the signature is not valid base64 (truncated?): %v", err)
	}
	if len(sig)*8 < MinKeyBits {
		return nil, fmt.Errorf("sdmp: SYML: the signature is %d bytes, too short for a %d-bit key (truncated?)", len(sig), MinKeyBits)
	}
	return sig, nil
}

// symlLine returns the 1-based line number of byte i in b.
func symlLine(b []byte, i int) int {
	return bytes.Count(b[:i], []byte("\n")) + 1
}

// symlCheckStream checks that stream starts with "---" and ends with a
// line that is "...", the two markers SYML 0.8 requires.
func symlCheckStream(stream []byte) error {
	switch {
	case bytes.HasPrefix(stream, []byte("---\n")), bytes.HasPrefix(stream, []byte("---\r\n")), bytes.HasPrefix(stream, []byte("--- ")):
	case bytes.HasPrefix(stream, []byte("---")) && len(stream) > 3:
		return fmt.Errorf(`sdmp: SYML: the stream starts with "---%s", not with the document marker "---" and a line break`, symlSnippet(stream[3:], false))
	default:
		return fmt.Errorf(`sdmp: SYML: the stream starts with %q, not with "---" (bad character before the signature ends?)`, symlSnippet(stream, false))
	}
	if !bytes.HasSuffix(stream, []byte("\n...")) {
		i := bytes.LastIndex(stream, []byte("\n..."))
		if i > 0 && len(stream) > i+4 {
			return fmt.Errorf(`sdmp: SYML: trailing data after "...": %q (only one line break may follow)`, symlSnippet(stream[i+4:], false))
		}
		return fmt.Errorf(`sdmp: SYML: the stream does not end with a "..." line (it ends with %q; truncated?)`, symlSnippet(stream, true))
	}
	return nil
}

// symlSnippet returns at most 16 bytes from the start (or the end) of b,
// for an error message.
func symlSnippet(b []byte, end bool) string {
	const n = 16
	if len(b) <= n {
		return string(b)
	}
	if end {
		return "…" + string(b[len(b)-n:])
	}
	return string(b[:n]) + "…"
}

// SignSYML signs a YAML stream with key and returns the whole SYML file:
// the signature in standard base64, 76 characters a line, each line ending
// with "\n", then the stream exactly as given, with nothing after "...".
// The signature is RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte
// salt over the stream (D2), which `openssl dgst -sha256 -sigopt
// rsa_padding_mode:pss` verifies. The stream must start with "---" and end
// with a "..." line; keys below MinKeyBits are refused.
func SignSYML(key *rsa.PrivateKey, stream []byte) ([]byte, error) {
	if key == nil {
		return nil, errors.New("sdmp: SYML: no signing key")
	}
	if err := symlCheckKeySize(&key.PublicKey); err != nil {
		return nil, err
	}
	if err := symlCheckStream(stream); err != nil {
		return nil, err
	}
	digest := sha256.Sum256(stream)
	sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: symlSaltLength})
	if err != nil {
		return nil, fmt.Errorf("sdmp: SYML: signing: %w", err)
	}
	b64 := base64.StdEncoding.EncodeToString(sig)
	out := make([]byte, 0, len(b64)+len(b64)/symlLineWidth+1+len(stream))
	for len(b64) > 0 {
		n := min(symlLineWidth, len(b64))
		out = append(out, b64[:n]...)
		out = append(out, '\n')
		b64 = b64[n:]
	}
	return append(out, stream...), nil
}

// Verify checks the signature over the stream with pub: RSASSA-PSS with
// SHA-256 and MGF1-SHA-256, accepting any salt length (D2), so that
// signatures made with another salt (openssl's default is the largest
// that fits) verify too. Keys below MinKeyBits are refused.
func (s *SYML) Verify(pub *rsa.PublicKey) error {
	if s == nil {
		return errors.New("sdmp: SYML: nothing to verify")
	}
	if err := symlCheckKeySize(pub); err != nil {
		return err
	}
	if len(s.Signature) != pub.Size() {
		return fmt.Errorf("sdmp: SYML: the signature is %d bytes, but key %.16s… (%d bits) makes %d-byte signatures: signed with another key, or damaged",
			len(s.Signature), Fingerprint(pub), pub.N.BitLen(), pub.Size())
	}
	digest := sha256.Sum256(s.Stream)
	if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], s.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
		return fmt.Errorf("sdmp: SYML: the signature does not verify with key %.16s…: signed with another key, or the stream was altered", Fingerprint(pub))
	}
	return nil
}
