package node

import (
	"strings"
	"testing"
	"time"
)

const testCard = "pydevts1:OpKmHwrnxTyIp5Rx1MoNOe3MB63QTNbngIZGZEWcDFBcEtWIZ8eszATUSp4AiavXAhZa__8I43R9Wg1J3hGnvQf3QNvXqnrbc_ZXIytm7cbPdA2yYfGrvdIa13QwMHOisIY7z3Qpbfo1nYEi16JBdYwyC3mY9NGU8qFTt5ZYqwI"

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`
listen:
  pydevts: "127.0.0.1:7400"
  tcp: true
  sdmp_tcp: "127.0.0.1:7401"
sync_interval: 3s
peers:
  - name: bob
    node_key: peers/bob-node.pem
    user_key: peers/bob-user.pem
    transport: "` + testCard + `"
    pydevts: "127.0.0.1:7500"
  - name: carol
    node_key: peers/carol-node.pem
    user_key: peers/carol-user.pem
    sdmp_tcp: "[::1]:7601"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.SyncInterval != 3*time.Second || c.IdleTimeout != DefaultIdleTimeout || c.RedialInterval != DefaultRedialInterval {
		t.Errorf("durations %v %v %v", c.SyncInterval, c.IdleTimeout, c.RedialInterval)
	}
	if len(c.Peers) != 2 || c.Peers[1].SDMPTCP != "[::1]:7601" || !c.Listen.TCP {
		t.Errorf("parsed %+v", c)
	}
	if c, err := ParseConfig(nil); err != nil || c.SyncInterval != DefaultSyncInterval {
		t.Errorf("empty config: %+v, %v", c, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	peer := "peers:\n  - name: bob\n    node_key: n.pem\n    user_key: u.pem\n"
	for _, tc := range []struct{ yaml, want string }{
		{"listen:\n  pydevts: nope\n", "listen.pydevts"},
		{"listn: {}\n", "listn"},
		{"sync_interval: -1s\n", "sync_interval"},
		{"sync_interval: soon\n", "line 1"},
		{"relays: [a, b, c, d]\n", "at most 3"},
		{"relays: [\"127.0.0.1:1/zz\"]\n", "relays[0]"},
		{"listen:\n  pydevts: \"127.0.0.1:1\"\n  no_udp: true\n", "no_udp"},
		{"peers:\n  - node_key: n.pem\n    user_key: u.pem\n", "peers[0].name"},
		{"peers:\n  - name: bob\n    user_key: u.pem\n", "node_key"},
		{"peers:\n  - name: bob\n    node_key: n.pem\n", "user_key"},
		{peer, "no way to reach it"},
		{peer + "    transport: junk\n", "transport"},
		{peer + "    transport: \"" + testCard + "\"\n", "transport without"},
		{peer + "    sdmp_tcp: x\n", "sdmp_tcp"},
		{peer + "    sdmp_tcp: \"h:1\"\n  - name: bob\n    node_key: n\n    user_key: u\n    sdmp_tcp: \"h:1\"\n", "twice"},
		{"- a\n- b\n", "config"},
	} {
		_, err := ParseConfig([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error naming %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := ParseConfig(make([]byte, maxConfigSize+1)); err == nil {
		t.Error("an oversize config was accepted")
	}
}
