package bench

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// NewProgress returns a progress display on w: a bar when w is a terminal,
// one plain line per run otherwise (logs, CI).
func NewProgress(w io.Writer, terminal bool) Progress {
	if terminal {
		return &barProgress{w: w}
	}
	return &lineProgress{w: w}
}

type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Begin(runs int, estimate time.Duration) {
	p.bar = progressbar.NewOptions(runs,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		// Our own estimate knows each run's duration; the bar's
		// extrapolation from the first runs does not.
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionClearOnFinish(),
	)
}

func (p *barProgress) Step(run int, desc string, left time.Duration) {
	p.bar.Describe(fmt.Sprintf("%s · about %v left", desc, left.Round(time.Second)))
	p.bar.Set(run)
}

func (p *barProgress) End() {
	p.bar.Finish()
}

type lineProgress struct {
	w    io.Writer
	runs int
}

func (p *lineProgress) Begin(runs int, estimate time.Duration) {
	p.runs = runs
	fmt.Fprintf(p.w, "bench: %d runs, about %v\n", runs, estimate.Round(time.Second))
}

func (p *lineProgress) Step(run int, desc string, left time.Duration) {
	fmt.Fprintf(p.w, "bench: [%d/%d] %s (about %v left)\n", run+1, p.runs, desc, left.Round(time.Second))
}

func (p *lineProgress) End() {}
