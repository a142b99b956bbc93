package linkemu

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	nan := math.NaN()
	ge := func(g GE) *GE { return &g }
	tests := []struct {
		name  string
		spec  Spec
		field string // "" for a valid spec
	}{
		{"zero", Spec{}, ""},
		{"full", Spec{Delay: 50 * time.Millisecond, Jitter: 50 * time.Millisecond, KeepOrder: true,
			GE: Burst(0.05, 10), Reorder: 0.1, Duplicate: 1, Corrupt: 0.5, Rate: 1e6, Queue: 1 << 20}, ""},
		{"max delay", Spec{Delay: MaxDelay}, ""},
		{"certain loss", Spec{Loss: 1}, ""},
		{"queue without rate", Spec{Queue: 100}, ""},
		{"negative delay", Spec{Delay: -1}, "Delay"},
		{"huge delay", Spec{Delay: MaxDelay + 1}, "Delay"},
		{"negative jitter", Spec{Delay: 1, Jitter: -1}, "Jitter"},
		{"jitter over delay", Spec{Delay: time.Millisecond, Jitter: time.Millisecond + 1}, "Jitter"},
		{"negative loss", Spec{Loss: -0.01}, "Loss"},
		{"loss over 1", Spec{Loss: 1.01}, "Loss"},
		{"NaN loss", Spec{Loss: nan}, "Loss"},
		{"infinite loss", Spec{Loss: math.Inf(1)}, "Loss"},
		{"reorder over 1", Spec{Delay: 1, Reorder: 2}, "Reorder"},
		{"reorder without delay", Spec{Reorder: 0.1}, "Reorder"},
		{"negative duplicate", Spec{Duplicate: -1}, "Duplicate"},
		{"NaN corrupt", Spec{Corrupt: nan}, "Corrupt"},
		{"negative rate", Spec{Rate: -1}, "Rate"},
		{"negative queue", Spec{Rate: 1e6, Queue: -1}, "Queue"},
		{"loss and GE", Spec{Loss: 0.1, GE: Burst(0.05, 10)}, "GE"},
		{"GE.P", Spec{GE: ge(GE{P: 1.5, R: 0.5, LossBad: 1})}, "GE.P"},
		{"GE.R", Spec{GE: ge(GE{P: 0.5, R: -0.5, LossBad: 1})}, "GE.R"},
		{"GE.LossBad", Spec{GE: ge(GE{P: 0.5, R: 0.5, LossBad: nan})}, "GE.LossBad"},
		{"GE.LossGood", Spec{GE: ge(GE{P: 0.5, R: 0.5, LossBad: 1, LossGood: 2})}, "GE.LossGood"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %s", tt.field)
			}
			if !strings.Contains(err.Error(), "Spec."+tt.field+" ") || !strings.HasPrefix(err.Error(), "linkemu: ") {
				t.Fatalf("Validate() = %q, want it to start with linkemu: and name Spec.%s", err, tt.field)
			}
		})
	}
}

func TestMemPairValidates(t *testing.T) {
	tests := []struct {
		cfg  MemConfig
		want string
	}{
		{MemConfig{AB: Spec{Loss: 2}}, "MemConfig.AB.Loss"},
		{MemConfig{BA: Spec{Delay: -1}}, "MemConfig.BA.Delay"},
		{MemConfig{MTU: -1}, "MemConfig.MTU"},
		{MemConfig{Inbox: -1}, "MemConfig.Inbox"},
	}
	for _, tt := range tests {
		a, b, err := MemPair(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) || a != nil || b != nil {
			t.Errorf("MemPair(%+v) = %v, %v, %v; want nils and an error naming %s", tt.cfg, a, b, err, tt.want)
		}
	}
}

func TestGEMeans(t *testing.T) {
	tests := []struct {
		name        string
		ge          GE
		loss, burst float64
	}{
		// research/linkemu.md, section 2: ge=1%:25%:1:0 is 3.85 %, bursts of 4.
		{"netem 1%:25%", GE{P: 0.01, R: 0.25, LossBad: 1}, 0.01 / 0.26, 4},
		{"Burst(0.05, 10)", *Burst(0.05, 10), 0.05, 10},
		{"Burst(0.3, 2)", *Burst(0.3, 2), 0.3, 2},
		{"never bad", GE{}, 0, 0},
		{"Bernoulli as GE", GE{LossGood: 0.1}, 0.1, 1 / 0.9},
		{"stuck bad", GE{P: 0.1, LossBad: 1}, 1, math.Inf(1)},
		// A general chain, by hand: pi_bad = 0.02/0.22; loss = pi_bad*0.8 +
		// pi_good*0.01; a burst ends with probability
		// sum pi(s) l(s) T(s,s') (1 - l(s')).
		{"general", GE{P: 0.02, R: 0.2, LossBad: 0.8, LossGood: 0.01},
			0.02/0.22*0.8 + 0.2/0.22*0.01,
			(0.02/0.22*0.8 + 0.2/0.22*0.01) / (0.2/0.22*0.01*(0.98*0.99+0.02*0.2) + 0.02/0.22*0.8*(0.2*0.99+0.8*0.2))},
	}
	for _, tt := range tests {
		if got := tt.ge.MeanLoss(); !near(got, tt.loss, 1e-12) {
			t.Errorf("%s: MeanLoss() = %v, want %v", tt.name, got, tt.loss)
		}
		if got := tt.ge.MeanBurst(); !near(got, tt.burst, 1e-12) {
			t.Errorf("%s: MeanBurst() = %v, want %v", tt.name, got, tt.burst)
		}
	}
}

// near reports whether got is within rel of want, relatively; a zero or
// infinite want must match exactly.
func near(got, want, rel float64) bool {
	if math.IsInf(want, 0) || want == 0 {
		return got == want
	}
	return math.Abs(got-want) <= rel*math.Abs(want)
}

func TestBurst(t *testing.T) {
	g := Burst(0.05, 10)
	if g.R != 0.1 || g.LossBad != 1 || g.LossGood != 0 || !near(g.P, 0.1*0.05/0.95, 1e-15) {
		t.Fatalf("Burst(0.05, 10) = %+v", *g)
	}
	if err := (Spec{GE: g}).Validate(); err != nil {
		t.Fatalf("Burst(0.05, 10) is invalid: %v", err)
	}
	if g := Burst(0, 1); g.MeanLoss() != 0 || g.P != 0 {
		t.Fatalf("Burst(0, 1) = %+v, want no loss", *g)
	}
	for _, bad := range [][2]float64{{-0.1, 10}, {1, 10}, {math.NaN(), 10}, {0.05, 0.5}, {0.05, math.NaN()}, {0.05, math.Inf(1)}, {0.6, 1}} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("Burst(%v, %v) did not panic", bad[0], bad[1])
				} else if !strings.Contains(r.(string), "linkemu: Burst") {
					t.Errorf("Burst(%v, %v) panicked with %v", bad[0], bad[1], r)
				}
			}()
			Burst(bad[0], bad[1])
		}()
	}
}
