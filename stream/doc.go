// Package stream is ordered, reliable byte streams: PYDEVTS's "stream"
// channel, much like TCP connections multiplexed on one pydevts
// connection. A *Stream is a net.Conn.
//
// The package is a state machine that the engine (package rudp) drives: it
// owns no socket and starts no goroutine. The engine asks a Map for frames
// when congestion control lets it send (AppendFrames), hands it the frames
// that arrive (HandleFrame) and tells it the fate of every frame it sent
// (OnAcked, OnLost). Users call Read and Write from their own goroutines;
// when a call leaves something to send, the Map calls the wake function the
// engine gave it.
//
// Each stream has a send side and a receive side:
//
//	send:    open --Write--> sending --CloseWrite--> FIN sent --all acked--> done
//	                             \--STOP_SENDING from peer / reset--> reset --acked--> done
//	receive: open --data--> receiving --FIN, all read--> done (Read returns io.EOF)
//	                             \--RESET_STREAM from peer--> reset (Read fails)
//	                             \--CloseRead / Close--> discarding (STOP_SENDING sent)
//
// Flow control is QUIC's (RFC 9000 section 4): per stream (MAX_STREAM_DATA)
// and per connection (MAX_DATA), so a reader that stops reading stops its
// peer's writer once the windows fill, and the writer's Write blocks once
// its send buffer is full: memory is bounded at both ends. The number of
// streams a peer may open is bounded the same way (MAX_STREAMS).
//
// Stream IDs: the connection's initiator opens even IDs, the responder odd
// ones, each counting up by two; a frame for a new peer stream opens every
// lower one of the peer's too, so AcceptStream returns streams in order.
package stream
