// Package cc is congestion control: controllers behind one small
// interface, and the pacer that spreads a window's packets over the round
// trip. UDP has no back-pressure, so every path needs both, loopback
// included: without them a sender overruns the receiver's socket buffer
// and loses packets it then has to resend. Pure: time is a parameter.
package cc

import "time"

// Controller decides how many bytes may be in flight on a path. The engine
// reports every packet sent, acknowledged and lost.
type Controller interface {
	// OnSent reports a packet of bytes that entered flight at now.
	OnSent(now time.Time, bytes int)
	// OnAcked reports that a packet of bytes, sent at sentAt, was
	// acknowledged at now.
	OnAcked(now time.Time, bytes int, sentAt time.Time)
	// OnLost reports that a packet of bytes, sent at sentAt, was
	// declared lost at now.
	OnLost(now time.Time, bytes int, sentAt time.Time)
	// Window returns the congestion window in bytes.
	Window() int
	// PacingRate returns the rate at which to release packets, in bytes
	// per second, for a path whose smoothed RTT is srtt.
	PacingRate(srtt time.Duration) float64
	// InRecovery reports whether the controller is reacting to a loss.
	InRecovery(now time.Time) bool
}
