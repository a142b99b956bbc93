package cc

import "time"

// RateSampler measures the delivery rate of a connection, after
// draft-cheng-iccrg-delivery-rate-estimation-02 and section 4.1 of
// draft-ietf-ccwg-bbr-05 ("Delivery Rate Samples"). At each send it hands
// out a SendState, a snapshot of how much had been delivered by when, that
// the engine keeps in the packet's record; when the packet is
// acknowledged, the bytes delivered since that snapshot over the time
// they took give a rate. Taking the longer of the send and the ACK
// interval keeps the sample from exceeding the bottleneck rate when ACKs
// are compressed or sends came in a burst (draft-cheng section 3.3).
//
// Per ACK frame the engine calls OnPacketAcked and OnPacketLost for each
// packet the frame settles, then Sample once. The zero value is ready;
// the methods never allocate.
type RateSampler struct {
	origin      time.Time     // times are kept as offsets from here
	started     bool          //
	delivered   int64         // C.delivered: bytes acknowledged so far
	lost        int64         // C.lost: bytes declared lost so far
	deliveredAt time.Duration // C.delivered_time
	firstSentAt time.Duration // C.first_send_time
	appLimited  int64         // C.app_limited: delivered mark ending the bubble; 0: none

	// The ACK event being built, reset by Sample.
	rs        RateSample
	newest    SendState // state of the newest packet acknowledged
	hasNewest bool
}

// SendState is the sampler's snapshot at one packet's send, kept by the
// engine in the packet's record and handed back when the packet is
// acknowledged (draft-ietf-ccwg-bbr-05 section 4.1: P.delivered,
// P.delivered_time, P.first_send_time, P.is_app_limited, P.tx_in_flight,
// P.lost). It is a small value: no pointers, nothing to free.
type SendState struct {
	delivered   int64         // C.delivered at send
	lost        int64         // C.lost at send
	deliveredAt time.Duration // C.delivered_time at send
	firstSentAt time.Duration // C.first_send_time at send
	sentAt      time.Duration // the packet's own send time
	txInFlight  int64         // bytes in flight just after this send
	appLimited  bool          // sent inside an app-limited bubble
}

// RateSample is what one ACK event tells of the path
// (draft-ietf-ccwg-bbr-05 section 2.2, "Per-ACK Rate Sample State").
type RateSample struct {
	// DeliveryRate is Delivered over Interval, bytes per second; zero
	// when Valid is false.
	DeliveryRate float64
	// Valid reports whether DeliveryRate is a usable measurement: some
	// packet was acknowledged and the interval was not shorter than the
	// minimum RTT, which only ACK compression can cause (draft-cheng
	// section 3.3).
	Valid bool
	// Interval is the sampling interval: the longer of the send and the
	// ACK interval of the newest acknowledged packet.
	Interval time.Duration
	// Delivered is the bytes delivered over Interval.
	Delivered int64
	// PriorDelivered is the connection's delivered count when the newest
	// acknowledged packet was sent; round trips are counted with it.
	PriorDelivered int64
	// TotalDelivered is the connection's delivered count after this event
	// (C.delivered).
	TotalDelivered int64
	// RTT is the time from sending the newest acknowledged packet to now;
	// zero when nothing was acknowledged.
	RTT time.Duration
	// IsAppLimited reports that the newest acknowledged packet was sent
	// while the application, not the network, limited the sending rate:
	// the sample may then underestimate the path.
	IsAppLimited bool
	// TxInFlight is the bytes in flight when the newest acknowledged
	// packet was sent (RS.tx_in_flight).
	TxInFlight int64
	// Lost is the bytes declared lost between that packet's send and now
	// (RS.lost); Lost over TxInFlight is the loss rate BBR bounds.
	Lost int64
	// NewlyAcked and NewlyLost are the bytes this event acknowledged and
	// declared lost (RS.newly_acked, RS.newly_lost).
	NewlyAcked, NewlyLost int64
}

// at converts now to an offset from the sampler's origin. Offsets keep
// the monotonic clock reading and fit a SendState in 56 bytes.
func (s *RateSampler) at(now time.Time) time.Duration {
	if !s.started {
		s.started, s.origin = true, now
	}
	return now.Sub(s.origin)
}

// OnPacketSent snapshots the connection for an in-flight packet of bytes
// leaving at now, with priorInFlight bytes already in flight before it,
// and returns the snapshot for the packet's record.
func (s *RateSampler) OnPacketSent(now time.Time, bytes, priorInFlight int) SendState {
	t := s.at(now)
	if priorInFlight == 0 {
		// Nothing in flight: the rate interval starts now, not at the
		// last delivery before an idle spell (draft-cheng section 3.2).
		s.firstSentAt, s.deliveredAt = t, t
	}
	return SendState{
		delivered:   s.delivered,
		lost:        s.lost,
		deliveredAt: s.deliveredAt,
		firstSentAt: s.firstSentAt,
		sentAt:      t,
		txInFlight:  int64(priorInFlight + bytes),
		appLimited:  s.appLimited != 0,
	}
}

// OnAppLimited marks the connection application-limited: the engine had
// nothing to send although the window was open (and no loss waited to
// be repaired). Samples from packets sent until the bubble is delivered
// are marked IsAppLimited, so a low rate measured while idle is not
// mistaken for a slow path (draft-cheng section 3.4).
func (s *RateSampler) OnAppLimited(bytesInFlight int) {
	s.appLimited = max(s.delivered+int64(bytesInFlight), 1)
}

// AppLimited reports whether the connection is in an app-limited bubble.
func (s *RateSampler) AppLimited() bool { return s.appLimited != 0 }

// OnPacketAcked reports that the packet of bytes sent with st was
// acknowledged at now (for the first time: the engine settles each
// packet once).
func (s *RateSampler) OnPacketAcked(now time.Time, bytes int, st SendState) {
	t := s.at(now)
	s.delivered += int64(bytes)
	s.deliveredAt = t
	s.rs.NewlyAcked += int64(bytes)
	// The newest packet acknowledged gives the sample: its interval is
	// the most recent, and it is the one whose RTT reflects the path now
	// (draft-cheng section 3.3). Ties in send time go to the one sent with
	// more delivered, that is, later.
	if !s.hasNewest || st.sentAt > s.newest.sentAt ||
		(st.sentAt == s.newest.sentAt && st.delivered >= s.newest.delivered) {
		s.newest, s.hasNewest = st, true
		// Later packets' intervals start at this packet's send.
		s.firstSentAt = st.sentAt
	}
}

// OnPacketLost reports that a packet of bytes was declared lost.
func (s *RateSampler) OnPacketLost(bytes int) {
	s.lost += int64(bytes)
	s.rs.NewlyLost += int64(bytes)
}

// Sample ends the ACK event: it returns the event's RateSample and starts
// the next. minRTT is the path's minimum RTT (zero when unknown); an
// interval shorter than it can only come from ACK compression and gives
// no rate (draft-cheng section 3.3).
func (s *RateSampler) Sample(now time.Time, minRTT time.Duration) RateSample {
	t := s.at(now)
	rs := s.rs
	s.rs = RateSample{}
	rs.TotalDelivered = s.delivered
	if s.appLimited != 0 && s.delivered > s.appLimited {
		s.appLimited = 0 // the bubble has been delivered
	}
	if !s.hasNewest {
		return rs
	}
	p := s.newest
	s.hasNewest = false
	rs.PriorDelivered = p.delivered
	rs.IsAppLimited = p.appLimited
	rs.TxInFlight = p.txInFlight
	rs.Lost = s.lost - p.lost
	rs.RTT = t - p.sentAt
	rs.Delivered = s.delivered - p.delivered
	sendElapsed := p.sentAt - p.firstSentAt
	ackElapsed := s.deliveredAt - p.deliveredAt
	rs.Interval = max(sendElapsed, ackElapsed)
	if rs.Interval <= 0 || rs.Interval < minRTT {
		return rs
	}
	rs.Valid = true
	rs.DeliveryRate = float64(rs.Delivered) / rs.Interval.Seconds()
	return rs
}

// Delivered returns the bytes acknowledged so far (C.delivered).
func (s *RateSampler) Delivered() int64 { return s.delivered }
