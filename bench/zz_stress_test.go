package bench

import (
	"context"
	"testing"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
	"github.com/pydevts/pydevts/bench/scenario"
)

func TestZZProbeStress(t *testing.T) {
	ss := quick(t, "pydevts")
	s := ss[0]
	for round := 0; round < 30; round++ {
		a, b, err := linkemu.MemPair(linkemu.MemConfig{AB: s.AB, BA: s.BA, Seed: uint64(round), MTU: s.MTU})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		tr := pydevtsTransport{}
		srv, err := tr.listen(&env{pc: b})
		if err != nil {
			t.Fatal(err)
		}
		go srv.echo(ctx)
		cl, err := tr.dial(ctx, &env{pc: a}, srv.info())
		if err != nil {
			t.Fatal(err)
		}
		var worst time.Duration
		for i := 0; i < 200; i++ {
			st := time.Now()
			pctx, pc := context.WithTimeout(ctx, probeTimeout)
			err := cl.ping(pctx)
			pc()
			if d := time.Since(st); d > worst {
				worst = d
			}
			if err != nil {
				t.Errorf("round %d probe %d: %v after %v; client %+v", round, i, err, time.Since(st), cl.(*pydevtsClient).c.Stats())
				break
			}
		}
		t.Logf("round %d worst %v", round, worst)
		cl.close()
		srv.close()
		cancel()
		a.Close()
		b.Close()
	}
	_ = scenario.WorkloadIdle
}
