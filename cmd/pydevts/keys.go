package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/pydevts/pydevts/handshake"
)

// runKeygen: pydevts keygen [--force] FILE
func runKeygen(args []string, std stdio) error {
	stdout, stderr := std.out, std.errOut
	fl := newFlags("keygen", "FILE", stderr)
	force := fl.Bool("force", false, "replace FILE if it exists")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "the key file to write"); err != nil {
		return err
	}
	id, err := handshake.NewIdentity()
	if err != nil {
		return err
	}
	if err := handshake.WriteKeyFile(pos[0], id, *force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists; refusing to overwrite an identity (use --force to replace it)", pos[0])
		}
		return err
	}
	fmt.Fprintf(stderr, "wrote %s, fingerprint %s\n", pos[0], id.Fingerprint())
	fmt.Fprintln(stdout, id.Card())
	return nil
}

// runID: pydevts id [--fingerprint] FILE|PUBLIC-ID
func runID(args []string, std stdio) error {
	stdout, stderr := std.out, std.errOut
	fl := newFlags("id", "FILE|PUBLIC-ID", stderr)
	fp := fl.Bool("fingerprint", false, "print the 64-character fingerprint instead of the public identity")
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, 1, "a key file or a public identity"); err != nil {
		return err
	}
	card, err := loadCard(pos[0])
	if err != nil {
		return err
	}
	if *fp {
		fmt.Fprintln(stdout, card.Fingerprint())
	} else {
		fmt.Fprintln(stdout, card)
	}
	return nil
}

// loadCard reads a card from a key file, or from a public identity given
// on the command line (so `pydevts id --fingerprint pydevts1:...` turns a
// peer's public identity into the fingerprint an allow-list wants).
func loadCard(arg string) (handshake.Card, error) {
	if strings.HasPrefix(arg, "pydevts1:") {
		if _, err := os.Stat(arg); err != nil {
			return handshake.ParseCard(arg)
		}
	}
	id, err := handshake.LoadKeyFile(arg)
	if err != nil {
		return handshake.Card{}, err
	}
	return id.Card(), nil
}
