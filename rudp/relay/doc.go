// Package relay is the Tox TCP relay protocol, byte for byte as toxcore
// and tox-rs speak it (research/tox.md): the codec, a relay Server and a
// relay Client. A relay lets two clients that cannot reach each other
// directly exchange packets over TCP: each connects to the relay, routes
// to the other by public key, and the relay forwards Data between them.
//
// # Handshake
//
// Every key is Curve25519; box(K, N, m) is NaCl's crypto_box_afternm
// (XSalsa20-Poly1305, MAC first), K a precomputed key (crypto_box_beforenm,
// refusing peer keys of small order). The client knows the relay's
// long-term public key out of band. Neither message has a length prefix.
//
//	client → server, 128 bytes:
//	+-----------------------+-----------+------------------------------------------+
//	| client long-term pk   | nonce N1  | box(K_lt, N1, temp pk 32 ‖ base nonce 24) |
//	|          32           |    24     |                 72                       |
//	+-----------------------+-----------+------------------------------------------+
//	server → client, 96 bytes:
//	+-----------+------------------------------------------+
//	| nonce N2  | box(K_lt, N2, temp pk 32 ‖ base nonce 24) |
//	|    24     |                 72                       |
//	+-----------+------------------------------------------+
//	K_lt = beforenm(server pk, client sk) = beforenm(client pk, server sk)
//
// The session key is beforenm(peer's temporary pk, own temporary sk). Each
// side seals with the base nonce it sent itself, the other opens with it,
// and both add one (as a 24-byte big-endian number) per frame. A relay
// that cannot open the hello closes without a word.
//
// # Frames
//
//	+-----------+--------------------------------------------------+
//	| length L  | box(K_s, nonce, packet)        L = packet + 16    |
//	| u16 BE    | 17 ≤ L ≤ 2048                                    |
//	+-----------+--------------------------------------------------+
//
// A packet is 1 to MaxPlaintext (2032) bytes, a frame at most MaxFrame
// (2050). One frame that does not open desynchronises the nonces, so it
// ends the connection.
//
// # Packets
//
// The first byte of a packet is its type, or from 16 up the connection id
// of a Data packet. pk is a 32-byte public key, id a connection id.
//
//	type                     dir   layout                     size       this server         this client
//	0  RouteRequest          C→S   00 pk                      33         routes              sends
//	1  RouteResponse         S→C   01 id pk (id 0: refused)   34         closes              handles
//	2  ConnectNotification   S→C   02 id                      2          ignores             handles
//	3  DisconnectNotif.      both  03 id                      2          unroutes            handles, sends
//	4  PingRequest           both  04 ping id (8 opaque)      9          answers (id 0 too)  answers, sends
//	5  PongResponse          both  05 ping id                 9          id 0 closes         id 0 closes
//	6  OOBSend               C→S   06 dest pk data            34..1057   relays              sends
//	7  OOBReceive            S→C   07 sender pk data          34..1057   closes              handles
//	8  OnionRequest          C→S   08 opaque                  > 159      ignores (no onion)  never sends
//	9  OnionResponse         S→C   09 opaque                  ≥ 2        closes              ignores
//	10 ForwardRequest        C→S   0A opaque                  ≥ 2        ignores (no DHT)    never sends
//	11 Forwarding            S→C   0B opaque                  ≥ 2        closes              ignores
//	12-15 reserved                                                       closes              closes
//	16-255 Data              both  id payload                 2..2032    forwards            handles, sends
//
// A packet that breaks its size rule ends the connection at both ends, as
// in toxcore and tox-rs.
//
// # Links
//
// A client has NumLinks (240) links, ids 16 to 255, its own numbering:
// the relay rewrites the id when it forwards. RouteRequest(pk) takes the
// lowest free link (asking again gives the same id; routing to oneself or
// with every link taken gives id 0). When both clients have routed to
// each other the link is online and each gets a ConnectNotification with
// its own id; only then is Data forwarded. A DisconnectNotification from
// one side frees its link and takes the other side back to registered,
// with a DisconnectNotification; so does the client leaving.
//
//	free ── RouteRequest ──► registered ── peer routes back ──► online
//	  ▲                           │  ▲                             │
//	  └── DisconnectNotification ─┘  └── peer unroutes or leaves ──┘
//
// OOB packets need no link: the relay hands OOBSend data to the client
// that announced the destination key, with the sender's key, or drops it.
//
// # Server
//
// A connection goes CONNECTED (waiting for the 128 bytes) → UNCONFIRMED
// (reply sent) → CONFIRMED (its first frame opened) within
// HandshakeTimeout; at most MaxUnconfirmed wait there (the oldest goes),
// and at most MaxConns are open. A confirmed key that was already
// connected closes the older connection (toxcore: a stale reconnect).
// Each side pings every PingInterval and closes after PingTimeout without
// the pong.
//
// Strict as a client, lenient as a server: where c-toxcore and tox-rs
// differ, the server does what the more lenient one does (it ignores Data
// and DisconnectNotification on a free link, answers a ping with id 0,
// ignores unmatched pongs and a client's ConnectNotification), it closes
// only on what both close on or what it cannot read, and it forwards only
// what parsed. Data payloads are forwarded as they are, as c-toxcore does
// (tox-rs accepts only net_crypto packets).
//
// Onion packets: this relay has no onion or DHT instance, so it ignores
// OnionRequest whatever its size, as toxcore does when it has none, and
// ForwardRequest too (toxcore without forwarding closes instead). It never
// sends OnionResponse or Forwarding.
//
// The server never waits on a client. Reads go through a buffered reader
// that takes bytes as they come, never waiting for a whole frame to be in
// the socket (toxcore's FIONREAD gate deadlocks under load). Each client
// has a writer goroutine and a bounded queue: Data and OOB packets for a
// client whose queue holds QueueBytes are dropped; route responses,
// notifications, pings and pongs always queue, up to MaxPriority, and a
// client that leaves that many unread is closed. Server.Stats counts
// connections, frames, bytes, and every drop and close by reason.
//
// # Client
//
// Client dials a relay, runs the handshake and pings first, as toxcore
// does. It routes to peers by key, sends Data to online peers and OOB to
// any key, and reports link changes, Data and OOB as Events from Recv, in
// batches. Sends never block: the send queue drops its oldest packets when
// full, as every pydevts carrier does, since recovery is the engine's job.
//
// # Carrier
//
// Carrier runs the pydevts engine over a Client, each peer key behind a
// synthetic address (PeerAddr). DialCarrier's carrier outlives its
// connection: it dials the relay again, with backoff, whenever the
// connection ends, and routes to its peers again (see Carrier).
package relay
