package rudp_test

import (
	"context"
	"fmt"
	"io"
	"log"

	"github.com/pydevts/pydevts/rudp"
)

// A server listens; a client dials it by its public identity, sends a
// stream and a message, and closes gracefully.
func Example() {
	ctx := context.Background()

	// The server: a nil Config means a fresh identity and defaults.
	l, err := rudp.Listen("udp", "127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	serverID := l.Endpoint().Identity().Card() // give this to clients: serverID.String()

	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept(ctx)
		if err != nil {
			log.Fatal(err)
		}
		s, err := c.AcceptStream(ctx) // a *stream.Stream is a net.Conn
		if err != nil {
			log.Fatal(err)
		}
		b, _ := io.ReadAll(s)
		fmt.Printf("stream: %s\n", b)
		m, err := c.ReceiveMessage(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("message: %s\n", m)
		<-c.Done() // the client closed
	}()

	// The client.
	c, err := rudp.Dial(ctx, "udp", l.Addr().String(), serverID, nil)
	if err != nil {
		log.Fatal(err)
	}
	s, err := c.OpenStream(ctx)
	if err != nil {
		log.Fatal(err)
	}
	s.Write([]byte("hello, stream"))
	s.CloseWrite()
	// SendMessage returns once the server has acknowledged the message.
	if err := c.SendMessage(ctx, []byte("hello, message")); err != nil {
		log.Fatal(err)
	}
	// Close waits until everything sent is acknowledged.
	if err := c.Close(); err != nil {
		log.Fatal(err)
	}
	<-done
	// Output:
	// stream: hello, stream
	// message: hello, message
}
