// Package sdmp implements the documents of SDMP 0.9, the Secure
// Distributed Messaging Protocol (sdmp.github.io, tag v0.9, June 2015),
// and the Signed YAML 0.8 files that carry them (github.com/sdmp/signed-yaml,
// tag v0.8).
//
// SDMP lets people publish resources (identities, relationships, posts,
// encrypted messages) through nodes that sign, journal and synchronise
// them with the nodes of their connections. Every unit is a YAML document
// signed with an RSA key. This package is the part every other piece
// stands on: files, keys, signatures and document types. It sees no
// network and imports nothing of pydevts; the journal, the store and the
// session layer sit beside it in this package, and a running node
// (sdmp/node) on top.
//
// # Signed YAML
//
// A SYML file is a base64 RSASSA-PSS signature, a line break, and a YAML
// stream from "---" through "...". The stream's exact bytes are signed,
// hashed for the resource identifier and kept; YAML is never
// re-serialised for hashing. [ParseSYML], [SignSYML] and [SYML.Verify]
// handle files; [Fingerprint] names keys, [ResourceID] names resources;
// [GenerateKey] and the PEM functions handle keys as openssl writes them.
// The profile, checked against the openssl CLI in the tests:
//
//	signature   RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 on signing, any on verifying
//	encoding    standard base64 with "=", 76 characters a line, "\n" (we read "\r\n" too)
//	stream      "---" + line break ... line break + "...", at most one line break after it
//	keys        RSA, 2048 bits at least (MinKeyBits), 3072 when we make one
//	fingerprint lowercase hex SHA-256 of the DER SubjectPublicKeyInfo
//	resource id lowercase hex SHA-256 of the stream
//
// # Documents
//
// [DecodeDocument] reads a stream into a [Resource] (identity,
// relationship, user and node information, encrypted content, updates and
// deletes, application content) or a [Communication] (synchronize,
// journal, request, response), checking every field: unknown keys under
// sdmp are refused except under sdmp.document, which is free content like
// the root's other keys. Input limits come first: at most [MaxDocument]
// bytes, no tabs, anchors, aliases, comments or tags but !!binary, one
// document. A refusal is a [*DocumentError] naming the field, for a 400
// response. [EncodeDocument] writes our own documents in one fixed YAML
// subset, so they are stable bytes; [OpenDocument] parses, decodes and
// verifies a file in one step. [SealEncrypted] and [Encrypted.Open]
// encrypt content for recipients.
//
// # Decisions
//
// The spec leaves much open (../shared/research/sdmp.md, section 9). We
// take the decisions D1–D18 of that summary; those marked "elsewhere" are
// carried out by the journal, store and session code of this package or by
// sdmp/node, not by the files above.
//
//   - D1  Keys: sdmp.identity.key is the DER SubjectPublicKeyInfo in
//     !!binary; a fingerprint is the hex SHA-256 of those bytes; an
//     identity document's publisher must be its key's fingerprint. RSA of
//     2048 bits at least; we generate 3072. We also refuse keys above
//     16384 bits, whose every verification would be slow on purpose.
//   - D2  SYML: one hash (PSS over the stream, as the Python reference
//     does), SHA-256, MGF1-SHA-256, salt 32 when signing and any when
//     verifying; standard base64 wrapped at 76 with "\n"; "\r\n" and
//     "\n" accepted; the first "-" starts the stream.
//   - D3  Nothing after "..." is signed. A received file may have one line
//     break after it, which is dropped. We accept "\r\n" as that one line
//     break too, since we accept CRLF files (D2); the spec's only
//     implementation writes CRLF. Streams are kept as raw bytes.
//   - D4  The YAML subset above, emitted by EncodeDocument; strict
//     decoding. Timestamps and IP addresses are quoted, and so is every
//     other string, so that no value changes type with its text.
//   - D5  sdmp.version is the number 0.9; created (and identity.expires)
//     are written "YYYY-MM-DD HH:MM" in UTC, and read as that, a date, or
//     an ISO 8601 / YAML timestamp. Never trusted for security.
//   - D6–D8 (elsewhere: the session layer) the DH group, key derivation,
//     and records over a connection.
//   - D9–D11 (elsewhere: the journal) line numbers, when to append, and
//     the journal's middle field. Here: JournalList.Since and
//     Synchronize.Since are line numbers, ResourceRequest.Author is the
//     resource's publisher (D11), and journal entries are checked for form.
//   - D12 (elsewhere: the node) which publishers to accept. Here:
//     Identity.Expired.
//   - D13 Encrypted content: RSA-OAEP-SHA-256 wraps a fresh 32-byte key
//     per recipient; data is a 12-byte nonce and AES-256-GCM. At most 256
//     recipients, each tried by the reader.
//   - D14 (elsewhere: the session layer) padding to 256 bytes.
//   - D15 (elsewhere: the session layer) finding the signer of a
//     connection message. DecodeDocument refuses connection messages.
//   - D16 Responses: Response.Request is the ResourceID of the request's
//     stream (NewResponse), required with 400; statuses 400, 404 and 408
//     only, others are refused. A resource sent as an answer is its raw
//     file, not a communication document.
//   - D17 A stream with sdmp.communication is a communication document,
//     whose sdmp.node is the sender's fingerprint; otherwise it is a
//     resource, whose sdmp.node is a NodeInfo.
//   - D18 (elsewhere) freshness: created is informative only.
//
// Further rules of our own, where the spec is silent: a communication
// document holds exactly one of its four parts and nothing at its root but
// sdmp; an identity document holds no relationship; a relationship names
// exactly the party its type calls for, and not the publisher itself;
// updates lists no identifier twice; Synchronize.Limit is at least 1; a
// resource has some content (a delete's content is its updates).
package sdmp
