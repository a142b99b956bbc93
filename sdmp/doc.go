// Package sdmp implements SDMP 0.9 documents: Signed YAML (SYML 0.8)
// files, their keys and fingerprints, and resource identifiers.
//
// The full package comment, with the profile and the decisions taken,
// comes with the document types.
package sdmp
