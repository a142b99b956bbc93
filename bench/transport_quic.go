package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"os"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
)

// quicTransport is quic-go with its default configuration, as an
// application would use it: the peer we measure against. The bulk transfer
// and the probes are two streams of one connection.
type quicTransport struct{}

// alpn names the protocol in the TLS handshake, which QUIC requires.
const alpn = "pydevts-bench"

type quicServer struct {
	tr *quic.Transport
	ln *quic.Listener
	c  *quic.Conn
	// streams sorted by their first byte, by one goroutine started once
	start                  sync.Once
	bulkCh, probeCh, msgCh chan *quic.Stream
}

func (quicTransport) listen(env *env) (server, error) {
	tr, ln, err := quicListen(env, &quic.Config{})
	if err != nil {
		return nil, err
	}
	return &quicServer{tr: tr, ln: ln, bulkCh: make(chan *quic.Stream, 1), probeCh: make(chan *quic.Stream, 1), msgCh: make(chan *quic.Stream, 1)}, nil
}

// quicListen makes a quic-go transport on env's packet conn or a new
// socket, listening with conf and a throwaway certificate.
func quicListen(env *env, conf *quic.Config) (*quic.Transport, *quic.Listener, error) {
	cert, err := selfSigned()
	if err != nil {
		return nil, nil, err
	}
	tr, err := quicEndpoint(env)
	if err != nil {
		return nil, nil, err
	}
	ln, err := tr.Listen(&tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{alpn}}, conf)
	if err != nil {
		tr.Close()
		return nil, nil, err
	}
	return tr, ln, nil
}

// quicEndpoint makes a quic-go transport on env's packet conn or a new
// socket.
func quicEndpoint(env *env) (*quic.Transport, error) {
	pc, err := packetConn(env)
	if err != nil {
		return nil, err
	}
	quietInMemory(env)
	return &quic.Transport{Conn: pc}, nil
}

// quicClientTLS is the client's TLS configuration. The bench measures
// transport, not authentication: the server's certificate is self-signed
// and not checked.
var quicClientTLS = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{alpn}}

func (s *quicServer) info() serverInfo { return serverInfo{Addr: s.tr.Conn.LocalAddr().String()} }

// streams accepts the connection and sorts its streams.
func (s *quicServer) streams(ctx context.Context) {
	c, err := s.ln.Accept(ctx)
	if err != nil {
		return
	}
	s.c = c
	for {
		st, err := c.AcceptStream(ctx)
		if err != nil {
			return
		}
		var mark [1]byte
		if _, err := io.ReadFull(st, mark[:]); err != nil {
			continue
		}
		switch mark[0] {
		case markBulk:
			s.bulkCh <- st
		case markProbe:
			s.probeCh <- st
		case markMessages:
			s.msgCh <- st
		}
	}
}

func (s *quicServer) bulk(ctx context.Context) (io.Reader, error) {
	s.start.Do(func() { go s.streams(ctx) })
	select {
	case st := <-s.bulkCh:
		return st, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *quicServer) echo(ctx context.Context) {
	select {
	case st := <-s.probeCh:
		echoStream(st)
	case <-ctx.Done():
	}
}

func (s *quicServer) recovered() int64 { return -1 }

func (s *quicServer) close() error {
	s.ln.Close()
	return s.tr.Close()
}

type quicClient struct {
	tr    *quic.Transport
	c     *quic.Conn
	probe *quic.Stream
}

func (quicTransport) dial(ctx context.Context, env *env, info serverInfo) (client, error) {
	addr, err := net.ResolveUDPAddr("udp", info.Addr)
	if err != nil {
		return nil, err
	}
	tr, err := quicEndpoint(env)
	if err != nil {
		return nil, err
	}
	c, err := tr.Dial(ctx, addr, quicClientTLS, &quic.Config{})
	if err != nil {
		tr.Close()
		return nil, err
	}
	cl := &quicClient{tr: tr, c: c}
	if cl.probe, err = cl.stream(ctx, markProbe); err != nil {
		cl.close()
		return nil, err
	}
	return cl, nil
}

func (c *quicClient) stream(ctx context.Context, mark byte) (*quic.Stream, error) {
	st, err := c.c.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := st.Write([]byte{mark}); err != nil {
		return nil, err
	}
	return st, nil
}

func (c *quicClient) bulk(ctx context.Context) (io.WriteCloser, error) {
	return c.stream(ctx, markBulk)
}

func (c *quicClient) ping(ctx context.Context) error { return pingStream(ctx, c.probe) }

func (c *quicClient) lost() int64 { return int64(c.c.ConnectionStats().PacketsLost) }

func (c *quicClient) close() error {
	c.c.CloseWithError(0, "")
	return c.tr.Close()
}

// quietInMemory silences quic-go's warning that it cannot size the socket
// buffers of an in-memory link (which has none), through the switch
// quic-go itself reads for that purpose.
func quietInMemory(env *env) {
	if env.pc != nil {
		os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	}
}

// selfSigned makes a throwaway certificate for the quic-go server.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pydevts-bench"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"pydevts-bench"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
