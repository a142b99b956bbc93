// Package ack is loss recovery after RFC 9002: on the sending side the
// history of sent packets, RTT estimation, loss detection by packet and time
// threshold, explicit REQUESTs and the probe timeout (Sender); on the
// receiving side the packet numbers received, when to acknowledge, and which
// holes to request (Receiver). It is pure: the engine passes the time in and
// acts on what it reports.
package ack
