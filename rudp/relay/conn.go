package relay

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
)

// Both ends of a relay connection, the server's session and the client,
// are the same machine underneath: a reader that opens frames as bytes
// arrive, and a writer goroutine that drains a sendQueue, seals what it
// takes and writes it in one system call. This file is that machine.

// readBufferSize is the buffered reader's size: enough for several
// frames per read system call, small enough for thousands of idle clients.
const readBufferSize = 8 << 10

// writeBatchSize bounds what the writer seals before it writes: 64 KiB is
// where loopback TCP writes stop getting cheaper per byte.
const writeBatchSize = 64 << 10

// writeBufPool holds the writer's output buffers, so that an idle
// connection holds none.
var writeBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBatchSize+MaxFrame)
	return &b
}}

// counters are traffic counters, shared by every connection of a server.
type counters struct {
	framesIn, framesOut, bytesIn, bytesOut atomic.Uint64
}

// A frameConn is one established relay connection.
type frameConn struct {
	nc   net.Conn
	br   *bufio.Reader
	sess *Session
	q    *sendQueue
	cnt  *counters

	done  chan struct{} // closed by close
	once  sync.Once
	cause error // why it closed; written once, before done is closed

	rbuf [MaxCiphertext]byte // ciphertext of the frame being read
	pbuf [MaxPlaintext]byte  // its plaintext
}

func newFrameConn(nc net.Conn, br *bufio.Reader, sess *Session, q *sendQueue, cnt *counters) *frameConn {
	return &frameConn{nc: nc, br: br, sess: sess, q: q, cnt: cnt, done: make(chan struct{})}
}

// readPacket reads and opens the next frame. The plaintext is valid until
// the next call. Errors in the frame itself are frameErrors.
func (c *frameConn) readPacket() ([]byte, error) {
	ct, err := ReadFrame(c.br, c.rbuf[:])
	if err != nil {
		return nil, err
	}
	pt, err := c.sess.OpenFrame(c.pbuf[:0], ct)
	if err != nil {
		return nil, err
	}
	c.cnt.framesIn.Add(1)
	c.cnt.bytesIn.Add(uint64(2 + len(ct)))
	return pt, nil
}

// writeLoop is the writer goroutine: it runs until the connection closes,
// and closes it when a write fails.
func (c *frameConn) writeLoop() {
	var batch []*[]byte
	for {
		select {
		case <-c.q.wake:
		case <-c.done:
			return
		}
		batch = c.q.take(batch[:0])
		err := c.writeBatch(batch)
		c.q.written()
		clear(batch)
		if err != nil {
			c.close(err)
			return
		}
	}
}

// writeBatch seals the packets of batch and writes them, returning their
// buffers to the pool.
func (c *frameConn) writeBatch(batch []*[]byte) error {
	bp := writeBufPool.Get().(*[]byte)
	out := (*bp)[:0]
	defer func() {
		*bp = out[:0]
		writeBufPool.Put(bp)
	}()
	var err error
	for i, b := range batch {
		if err == nil {
			var serr error
			out, serr = c.sess.SealFrame(out, *b)
			if serr == nil {
				c.cnt.framesOut.Add(1)
			}
			if len(out) >= writeBatchSize || i == len(batch)-1 {
				err = c.write(out)
				out = out[:0]
			}
		}
		putBuf(b)
	}
	return err
}

func (c *frameConn) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := c.nc.Write(b)
	c.cnt.bytesOut.Add(uint64(len(b)))
	return err
}

// send queues the packet in b (taking b); see sendQueue.push.
func (c *frameConn) send(b *[]byte, priority bool) pushResult { return c.q.push(b, priority) }

// close closes the connection for cause, once; the first cause stays.
func (c *frameConn) close(cause error) {
	c.once.Do(func() {
		c.cause = cause
		close(c.done)
		c.nc.Close()
		c.q.close()
	})
}

// closed reports whether close has been called.
func (c *frameConn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
