// Package fec is forward error correction for the engine's packets:
// Reed-Solomon groups of at most MaxData data packets protected by up to
// MaxParity parity packets, so that a receiver which got any k of a group's
// k+m packets rebuilds the missing data packets without waiting a round trip
// for their retransmission.
//
// FEC is a layer on packets. Parity is computed over the plaintext payloads,
// before encryption, so a parity packet is authenticated like every other
// packet and the receiver rebuilds exactly the plaintext it would have
// decrypted. The engine writes a data packet's group and index into a small
// frame of the packet itself (Encoder.Next gives them before the payload is
// built), and sends parity in packets of its own.
//
// # Shards
//
// A data shard is a data packet's identity and plaintext, zero-padded to the
// group's shard size, which is the size of the group's largest data shard:
//
//	 0                   8        10                        10+length   size
//	+-------------------+--------+---------------------------+---------+
//	| packet number     | length | payload (length bytes)    | 0 ... 0 |
//	| 8 bytes, big end. | 2 B BE |                           | padding |
//	+-------------------+--------+---------------------------+---------+
//
// A parity shard is size bytes: row j of the code applied byte by byte to
// the group's data shards. A rebuilt data shard gives back the lost packet's
// number and payload exactly; a length that does not fit the shard, or
// padding that is not zero, means the group is inconsistent and is dropped.
//
// A parity shard is therefore ShardHeader (10) bytes longer than the
// largest payload of its group, and its packet also carries the parity's
// frame (group, K, M, index): when FEC is on, the engine must build data
// packets at least that much below its largest payload, or their parity
// will not fit in a datagram. A recovered payload is the whole plaintext,
// FEC frame included, exactly as the sender built it.
//
// # Groups
//
//	group g at ratio k+m (K = k, or fewer when flushed early):
//
//	         index   0     1     2          K-1
//	              +-----+-----+-----+-----+-----+
//	  data        | d0  | d1  | d2  | ... |dK-1 |  sent as built, each with
//	              +-----+-----+-----+-----+-----+  a frame naming (g, index)
//	                 |     |     |     |     |
//	                 v     v     v     v     v
//	                 p_j = sum over i of C[j][i] * d_i
//	                 |     |     |     |
//	                 v     v     v     v
//	              +-----+-----+-----+-----+
//	  parity      | p0  | p1  | ... |pM-1 |  sent when the K-th data shard
//	              +-----+-----+-----+-----+  is added, or flushAfter after
//	         index   0     1          M-1    the first (sparse traffic), each
//	                                         with a frame naming (g, K, M, j)
//
// The code is systematic and built on one fixed MaxParity x MaxData Cauchy
// matrix C (C[j][i] = 1/(x_j + y_i) in GF(2^8), x_j = MaxData+j, y_i = i,
// rows and columns scaled so that the first row and column are ones; see
// field.go): parity j of a group of K data shards is sum over i < K of
// C[j][i]*d_i, so with one parity shard it is the XOR of the data. The
// K+M code is the top-left M x K corner of C, and every square submatrix of a
// Cauchy matrix is invertible (scaling keeps that), so any K of the K+M shards rebuild the group,
// for every K and M. That is what lets a group be flushed early with fewer
// data shards than the ratio's k: the parity accumulated so far already is
// the parity of the smaller code, and the receiver needs only K and M.
//
// # Cost
//
// The arithmetic runs on klauspost/reedsolomon's SIMD multiply-accumulate
// kernels, one data shard times one coefficient at a time (see field.go for
// why not its whole-group Encode and ReconstructData, which allocate). The
// encoder folds each data shard into the parity as it is added, so it keeps
// no copy of the data and Parity is free; the decoder keeps a group's shards
// until it can rebuild or the group is complete.
//
// # Use
//
// Everything is pure: no clock reads (now is a parameter), no goroutines,
// no I/O. Encoder, Decoder and Adapter are not safe for concurrent use; each
// belongs to one connection's loop. In steady state nothing allocates.
package fec
