package rudp

import (
	"context"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pydevts/pydevts/bench/linkemu"
)

func TestSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b, err := linkemu.MemPair(linkemu.MemConfig{AB: linkemu.Spec{Delay: 10 * time.Millisecond}, BA: linkemu.Spec{Delay: 10 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		ea, err := NewEndpoint(a, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ea.Close()
		eb, err := NewEndpoint(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer eb.Close()
		ctx := context.Background()
		go func() {
			c, err := eb.Accept(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			s, err := c.AcceptStream(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			data, err := io.ReadAll(s)
			t.Logf("server got %d bytes %v", len(data), err)
			s.Write(data)
			s.Close()
		}()
		c, err := ea.Dial(ctx, b.LocalAddr().String(), eb.Identity().Card())
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("hello over pydevts"))
		s.CloseWrite()
		back, err := io.ReadAll(s)
		if err != nil || string(back) != "hello over pydevts" {
			t.Fatalf("%q %v", back, err)
		}
		t.Logf("stats %+v", c.Stats())
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
