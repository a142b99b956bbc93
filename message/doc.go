// Package message is PYDEVTS's "message" channel: each message is sent
// until the peer acknowledges it, and delivered to the receiving
// application as soon as it is complete, in whatever order messages
// complete, each exactly once.
//
// Like package stream, it is a state machine that the engine drives
// (AppendFrames, HandleFrame, OnAcked, OnLost) and that wakes the engine
// when it has something to send; it owns no socket and starts no
// goroutine. Send blocks its caller until the message is acknowledged,
// abandoned or the connection ends; Receive blocks until a message is
// complete.
//
// A message of up to 1 MiB travels as MESSAGE frames, each a fragment at an
// offset; lost fragments are resent. A sender that gives a message up
// (its context ended or its TTL passed) sends ABANDON, and the receiver
// drops the fragments it holds and never delivers that message. The
// receiver remembers which message IDs it has delivered or dropped, so a
// late or duplicated fragment never delivers a message twice.
//
// Flow control: each message occupies a range of the sender's message byte
// space (the spans of all messages before it, summed; a message spans its
// size plus Overhead bytes, so the window bounds how many messages the
// receiver holds as well as their bytes). The receiver grants
// a limit in that space (MAX_MESSAGE_DATA) and moves it on as the
// application takes messages, so the receiver never holds more than its
// window of message bytes, complete or not, while messages still complete
// in any order. A sender waits, first come first served, for room for a
// whole message.
//
// An error from Send means the message is not known to have arrived: it
// may not have, or its acknowledgment may have been lost. Either way the
// receiver delivers it at most once.
package message
