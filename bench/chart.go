package bench

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WriteCharts draws, into dir, one goodput-versus-loss chart per scenario
// group with a loss matrix (log scale: goodput spans three orders of
// magnitude between clean and lossy links) and one chart of the latency
// percentiles per scenario (under load for bulk scenarios, of delivery
// for messages scenarios), each as PNG and SVG. It returns the files
// written.
func WriteCharts(dir string, sums []Summary) ([]string, error) {
	var files []string
	save := func(p *plot.Plot, name string) error {
		for _, ext := range []string{".png", ".svg"} {
			f := filepath.Join(dir, name+ext)
			if err := p.Save(7*vg.Inch, 4.5*vg.Inch, f); err != nil {
				return fmt.Errorf("bench: drawing %s: %w", f, err)
			}
			files = append(files, f)
		}
		return nil
	}
	for _, group := range lossGroups(sums) {
		p, err := goodputChart(group, sums)
		if err != nil {
			return files, err
		}
		if p != nil {
			if err := save(p, "goodput-vs-loss-"+fileName(group)); err != nil {
				return files, err
			}
		}
	}
	var seen []string
	for _, s := range sums {
		if slices.Contains(seen, s.Scenario) {
			continue
		}
		seen = append(seen, s.Scenario)
		name, chart := "latency-", latencyChart
		if isMessages(s) {
			name, chart = "delivery-latency-", deliveryChart
		}
		p, err := chart(s.Scenario, sums)
		if err != nil {
			return files, err
		}
		if p != nil {
			if err := save(p, name+fileName(s.Scenario)); err != nil {
				return files, err
			}
		}
	}
	return files, nil
}

// lossGroups lists the groups whose runs vary the loss.
func lossGroups(sums []Summary) []string {
	var out []string
	for _, s := range sums {
		if _, ok := s.Matrix["loss"]; ok && !slices.Contains(out, s.Group) {
			out = append(out, s.Group)
		}
	}
	return out
}

// lossPercent reads a matrix loss value ("5%", "0.05") as a percentage.
func lossPercent(v string) (float64, bool) {
	if p, ok := strings.CutSuffix(strings.TrimSpace(v), "%"); ok {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		return x, err == nil
	}
	x, err := strconv.ParseFloat(v, 64)
	return 100 * x, err == nil
}

func goodputChart(group string, sums []Summary) (*plot.Plot, error) {
	series := map[string]plotter.XYs{}
	var order []string
	for _, s := range sums {
		if s.Group != group || s.Goodput.N == 0 {
			continue
		}
		loss, ok := lossPercent(s.Matrix["loss"])
		if !ok {
			continue
		}
		if _, ok := series[s.Transport]; !ok {
			order = append(order, s.Transport)
		}
		// A log axis cannot show zero: a transport that moved nothing
		// sits at the bottom of the chart.
		series[s.Transport] = append(series[s.Transport], plotter.XY{X: loss, Y: max(s.Goodput.Median, 0.01)})
	}
	if len(order) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = "Goodput vs. random loss: " + group
	p.X.Label.Text = "loss each way (%)"
	p.Y.Label.Text = "goodput (Mbit/s, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Legend.Top = true
	top := 0.0
	var args []any
	for _, t := range order {
		xy := series[t]
		for _, p := range xy {
			top = max(top, p.Y)
		}
		slices.SortFunc(xy, func(a, b plotter.XY) int { return cmpFloat(a.X, b.X) })
		args = append(args, t, xy)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, err
	}
	// Room above the highest line for the legend, which sits at the top.
	p.Y.Max = top * 8
	return p, nil
}

func latencyChart(scenario string, sums []Summary) (*plot.Plot, error) {
	var rows []Summary
	for _, s := range sums {
		if s.Scenario == scenario && s.LoadedP50.N > 0 {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	p := plot.New()
	p.Title.Text = "Request/response latency under load: " + scenario
	p.Y.Label.Text = "latency (ms)"
	p.Legend.Top = true
	w := vg.Points(14)
	for i, q := range []struct {
		name string
		get  func(Summary) float64
	}{
		{"p50", func(s Summary) float64 { return s.LoadedP50.Median }},
		{"p90", func(s Summary) float64 { return s.LoadedP90.Median }},
		{"p99", func(s Summary) float64 { return s.LoadedP99.Median }},
	} {
		var v plotter.Values
		for _, s := range rows {
			v = append(v, q.get(s))
		}
		bars, err := plotter.NewBarChart(v, w)
		if err != nil {
			return nil, err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(i)
		bars.Offset = vg.Length(i-1) * w
		p.Add(bars)
		p.Legend.Add(q.name, bars)
	}
	var names []string
	for _, s := range rows {
		names = append(names, s.Transport)
	}
	p.NominalX(names...)
	return p, nil
}

// logTicks labels a log axis at 1, 2 and 5 times each power of ten:
// gonum's LogTicks labels powers of ten only, which leaves a range like
// 2-200 Mbit/s with a label or two.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for _, m := range []float64{1, 2, 5} {
			if v := m * base; v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return ticks
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fileName turns a scenario name into a file name.
func fileName(s string) string {
	r := strings.NewReplacer("/", "_", "=", "-", "%", "pct", " ", "_")
	return r.Replace(s)
}
