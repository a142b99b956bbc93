package cc

// maxFilter is a windowed maximum, Kathleen Nichols' algorithm as Linux
// uses it for BBR (lib/minmax.c): it keeps the best, second-best and
// third-best samples of the window, each younger than the one before, so
// an update is O(1) and the maximum of the last window time units is
// always at hand without storing every sample. Time is whatever unit the
// caller counts in (BBR counts round trips).
type maxFilter struct {
	s [3]filterSample
}

type filterSample struct {
	t int64
	v float64
}

// get returns the windowed maximum.
func (f *maxFilter) get() float64 { return f.s[0].v }

// reset forgets everything but the sample v taken at t.
func (f *maxFilter) reset(t int64, v float64) float64 {
	f.s = [3]filterSample{{t, v}, {t, v}, {t, v}}
	return v
}

// update takes the sample v at time t and returns the maximum over the
// last window time units.
func (f *maxFilter) update(t int64, v float64, window int64) float64 {
	n := filterSample{t, v}
	if v >= f.s[0].v || t-f.s[2].t > window {
		return f.reset(t, v) // a new maximum, or nothing in the window
	}
	switch {
	case v >= f.s[1].v:
		f.s[2], f.s[1] = n, n
	case v >= f.s[2].v:
		f.s[2] = n
	}
	// Age the samples: the best may have left the window; and a
	// second- or third-best that is as old as the one before it is
	// replaced by something fresher once a quarter or half of the window
	// has passed, so the filter keeps candidates from across the window.
	dt := t - f.s[0].t
	switch {
	case dt > window:
		f.s[0], f.s[1], f.s[2] = f.s[1], f.s[2], n
		if t-f.s[0].t > window {
			f.s[0], f.s[1], f.s[2] = f.s[1], f.s[2], n
		}
	case f.s[1].t == f.s[0].t && dt > window/4:
		f.s[2], f.s[1] = n, n
	case f.s[2].t == f.s[1].t && dt > window/2:
		f.s[2] = n
	}
	return f.s[0].v
}
