package cc

import (
	"fmt"
	"time"
)

// Algorithm is a congestion controller driven once per packet sent and
// once per ACK frame processed, the shape model-based controllers (BBR)
// need: they learn from a rate sample per ACK, not from single packets.
// The engine keeps a RateSampler beside it, stores the sampler's
// SendState in every sent-packet record, and builds each AckEvent from
// the sampler. All methods run on the connection's loop; none blocks or
// allocates.
//
// Sending: a packet may leave when BytesInFlight+size <= Window() and the
// Pacer, fed PacingRate(), agrees.
type Algorithm interface {
	// OnPacketSent reports that an in-flight (ack-eliciting) packet of
	// bytes left at now; bytesInFlight includes it. Packets that are not
	// counted in flight (pure ACKs) are not reported.
	OnPacketSent(now time.Time, bytes, bytesInFlight int)
	// OnAckEvent reports what one ACK frame (or REQUEST frame, or loss
	// timer) revealed: the packets it acknowledged and those it declared
	// lost, with the sampler's RateSample for it. Call it once per event,
	// after every packet of the event was given to the RateSampler.
	OnAckEvent(now time.Time, ev AckEvent)
	// OnPersistentCongestion reports RFC 9002 section 7.6's persistent
	// congestion: every packet sent over a period longer than the PTO
	// times three was lost. The controller collapses to its minimum
	// window and starts over, as RFC 9002 section 7.6.2 requires.
	OnPersistentCongestion(now time.Time)
	// Window returns the congestion window in bytes.
	Window() int
	// PacingRate returns the rate to release packets at, in bytes per
	// second, for the Pacer.
	PacingRate() float64
	// InRecovery reports whether the controller is in a recovery period:
	// it has seen a loss, and no packet sent after that loss was
	// acknowledged yet.
	InRecovery() bool
	// State names the controller's state for statistics: "startup",
	// "drain", "probe_bw" or "probe_rtt" for BBR; "slow_start",
	// "congestion_avoidance" or "recovery" for CUBIC.
	State() string
}

// AckEvent is what one ACK frame, REQUEST frame or loss-timer expiry
// revealed. The engine fills it from its sent-packet records and its RTT
// estimator; it is a plain value, so building one allocates nothing.
type AckEvent struct {
	// Acked is the bytes newly acknowledged (in-flight packets only).
	Acked int
	// Lost is the bytes newly declared lost.
	Lost int
	// LostPackets is how many packets were newly declared lost.
	LostPackets int
	// NewestLostSent is the send time of the newest packet declared lost
	// in this event; zero when none was. CUBIC and NewReno compare it
	// with the start of their recovery period so that the losses of one
	// round trip make one congestion event (RFC 9002 section 7.3.2).
	NewestLostSent time.Time
	// NewestAckedSent is the send time of the newest packet acknowledged
	// in this event; zero when none was. A packet sent after recovery
	// began that is acknowledged ends recovery.
	NewestAckedSent time.Time
	// Sample is the delivery-rate sample of this event
	// (RateSampler.Sample).
	Sample RateSample
	// BytesInFlight is the bytes in flight after the event.
	BytesInFlight int
	// MinRTT and SmoothedRTT are the engine's RTT estimates (RFC 9002
	// section 5); zero before the first sample.
	MinRTT, SmoothedRTT time.Duration
}

// NewAlgorithm returns the controller called name, for datagrams of up to
// maxDatagram bytes: "bbr" (also the empty name, the default) or
// "cubic". seed makes BBR's randomised probing times reproducible
// (ARCHITECTURE.md: seeded randomness); it need not be secret.
func NewAlgorithm(name string, maxDatagram int, seed uint64) (Algorithm, error) {
	switch name {
	case "", "bbr":
		return NewBBR(maxDatagram, seed), nil
	case "cubic":
		return NewCubic(maxDatagram), nil
	}
	return nil, fmt.Errorf("cc: unknown congestion controller %q (want bbr or cubic)", name)
}

// MinPipeWindow is the smallest window BBR keeps, four datagrams
// (BBR.MinPipeCwnd, draft-ietf-ccwg-bbr-05 section 2.6): enough to keep
// a pipeline going with a receiver that acknowledges every other packet.
func MinPipeWindow(maxDatagram int) int { return 4 * maxDatagram }
