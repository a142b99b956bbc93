package bench

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// deliveryChart draws a messages scenario's delivery latency: p50, p90
// and p99 as marks above each transport, on a log scale (a transport
// that blocks behind retransmissions sits in the seconds while the
// others stay near the one-way delay), with the link's base RTT as a
// line, the unit its target is stated in.
func deliveryChart(scenario string, sums []Summary) (*plot.Plot, error) {
	var rows []Summary
	for _, s := range sums {
		if s.Scenario == scenario && s.Messages != nil && s.Messages.P50.N > 0 {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	m := rows[0].Messages
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Delivery latency, %s messages at %v/s: %s", sizeText(m.Size), m.Rate, scenario)
	p.Y.Label.Text = "one-way latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Legend.Top = true
	lo, hi := math.Inf(1), math.Inf(-1)
	if m.BaseRTT > 0 {
		lo, hi = m.BaseRTT, m.BaseRTT
	}
	for i, q := range []struct {
		name  string
		get   func(*MessageSummary) Spread
		shape draw.GlyphDrawer
	}{
		{"p50", func(m *MessageSummary) Spread { return m.P50 }, draw.CircleGlyph{}},
		{"p90", func(m *MessageSummary) Spread { return m.P90 }, draw.BoxGlyph{}},
		{"p99", func(m *MessageSummary) Spread { return m.P99 }, draw.PyramidGlyph{}},
	} {
		var xy plotter.XYs
		for x, s := range rows {
			// A log axis cannot show zero: a latency under 0.01 ms sits
			// at the bottom.
			y := max(q.get(s.Messages).Median, 0.01)
			xy = append(xy, plotter.XY{X: float64(x) + 0.15*float64(i-1), Y: y})
			lo, hi = min(lo, y), max(hi, y)
		}
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: plotutil.Color(i), Radius: vg.Points(4), Shape: q.shape}
		p.Add(sc)
		p.Legend.Add(q.name, sc)
	}
	if m.BaseRTT > 0 {
		rtt := plotter.NewFunction(func(float64) float64 { return m.BaseRTT })
		rtt.Color = color.Gray{Y: 96}
		rtt.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(rtt)
		p.Legend.Add(fmt.Sprintf("base RTT %.0f ms", m.BaseRTT), rtt)
	}
	var names []string
	for _, s := range rows {
		names = append(names, s.Transport)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(rows))-0.5
	// Room below the lowest mark, and above the highest for the legend.
	p.Y.Min, p.Y.Max = lo/2, hi*8
	return p, nil
}

// sizeText writes a message size in bytes as a scenario file would.
func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
