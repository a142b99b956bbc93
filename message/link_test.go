package message

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/pydevts/pydevts/internal/wire"
)

// link joins two Sets as the engine does: it moves packets of frames from
// one side to the other in one goroutine, losing some (reported with
// OnLost, so they are resent) and delivering some twice.
type link struct {
	a, b      *Set
	wake      chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
	mu        sync.Mutex // guards loss, dup, blackhole, budget, err
	loss, dup float64
	blackhole bool
	budget    int // when > 0: packets to deliver before the path goes dark
	rng       *rand.Rand
	err       error
}

func newLink(t testing.TB, cfgA, cfgB Config, loss, dup float64, seed uint64) *link {
	l := &link{wake: make(chan struct{}, 1), stop: make(chan struct{}), loss: loss, dup: dup, rng: rand.New(rand.NewPCG(seed, 9))}
	wake := func() {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	l.a = NewSet(cfgA, LimitOf(cfgB), wake)
	l.b = NewSet(cfgB, LimitOf(cfgA), wake)
	l.wg.Add(1)
	go l.run()
	t.Cleanup(func() {
		close(l.stop)
		l.wg.Wait()
		if l.err != nil {
			t.Errorf("protocol error on the link: %v", l.err)
		}
	})
	return l
}

func (l *link) set(loss float64, blackhole bool) {
	l.mu.Lock()
	l.loss, l.blackhole = loss, blackhole
	l.mu.Unlock()
	l.kick()
}

// passThen lets n more packets through, then blackholes the path.
func (l *link) passThen(n int) {
	l.mu.Lock()
	l.budget, l.blackhole = n, false
	l.mu.Unlock()
	l.kick()
}

func (l *link) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *link) run() {
	defer l.wg.Done()
	var f wire.Frame
	for {
		select {
		case <-l.wake:
		case <-l.stop:
			return
		}
		for progress := true; progress; {
			progress = false
			for _, d := range [2][2]*Set{{l.a, l.b}, {l.b, l.a}} {
				from, to := d[0], d[1]
				pkt, sent := from.AppendFrames(nil, 1200, nil)
				if len(sent) == 0 {
					continue
				}
				progress = true
				l.mu.Lock()
				lose := l.blackhole || l.rng.Float64() < l.loss
				if !lose && l.budget > 0 {
					if l.budget--; l.budget == 0 {
						l.blackhole = true
					}
				}
				copies := 1
				if l.rng.Float64() < l.dup {
					copies = 2
				}
				dark := l.blackhole
				l.mu.Unlock()
				if lose {
					for _, s := range sent {
						from.OnLost(s)
					}
					if dark {
						progress = false
					}
					continue
				}
				for range copies {
					for p := pkt; len(p) > 0; {
						n, err := wire.ParseFrame(p, &f)
						if err != nil {
							panic(err)
						}
						p = p[n:]
						if err := to.HandleFrame(&f); err != nil && l.err == nil {
							l.err = err
						}
					}
				}
				for _, s := range sent {
					from.OnAcked(s)
				}
			}
		}
	}
}
