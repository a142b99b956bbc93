package stream

import (
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"github.com/pydevts/pydevts/internal/wire"
)

// link joins two Maps as the engine does, in one goroutine: it takes
// packets of frames from each side, loses some (each lost frame reported
// with OnLost, so it is resent), hands the rest to the other side and
// reports them acknowledged. It is a test engine with no clock: loss is
// decided per packet from a seeded source.
type link struct {
	a, b  *Map
	wake  chan struct{}
	stop  chan struct{}
	done  sync.WaitGroup
	loss  float64
	rng   *rand.Rand
	err   error // the first protocol error either side reported
	errMu sync.Mutex
}

type testAddr string

func (a testAddr) Network() string { return "test" }
func (a testAddr) String() string  { return string(a) }

// newLink returns two connected Maps (a initiated the connection).
func newLink(t testing.TB, cfgA, cfgB Config, loss float64, seed uint64) (*Map, *Map, *link) {
	l := &link{wake: make(chan struct{}, 1), stop: make(chan struct{}), loss: loss, rng: rand.New(rand.NewPCG(seed, 1))}
	wake := func() {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	cfgA.LocalAddr, cfgA.RemoteAddr = testAddr("a"), testAddr("b")
	cfgB.LocalAddr, cfgB.RemoteAddr = testAddr("b"), testAddr("a")
	l.a = NewMap(cfgA, true, LimitsOf(cfgB), wake)
	l.b = NewMap(cfgB, false, LimitsOf(cfgA), wake)
	l.done.Add(1)
	go l.run()
	t.Cleanup(func() {
		close(l.stop)
		l.done.Wait()
		if err := l.failure(); err != nil {
			t.Errorf("protocol error on the link: %v", err)
		}
	})
	return l.a, l.b, l
}

func (l *link) failure() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

func (l *link) run() {
	defer l.done.Done()
	var f wire.Frame
	for {
		select {
		case <-l.wake:
		case <-l.stop:
			return
		}
		for progress := true; progress; {
			progress = false
			for _, d := range [2][2]*Map{{l.a, l.b}, {l.b, l.a}} {
				from, to := d[0], d[1]
				pkt, sent := from.AppendFrames(nil, 1200, nil)
				if len(sent) == 0 {
					continue
				}
				progress = true
				if l.loss > 0 && l.rng.Float64() < l.loss {
					for _, s := range sent {
						from.OnLost(s)
					}
					continue
				}
				for len(pkt) > 0 {
					n, err := wire.ParseFrame(pkt, &f)
					if err != nil {
						panic(err)
					}
					pkt = pkt[n:]
					if err := to.HandleFrame(&f); err != nil {
						l.errMu.Lock()
						if l.err == nil {
							l.err = err
						}
						l.errMu.Unlock()
					}
				}
				for _, s := range sent {
					from.OnAcked(s)
				}
			}
		}
	}
}

var _ net.Addr = testAddr("")
