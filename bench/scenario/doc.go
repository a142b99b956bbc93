// Package scenario reads the scenario files of `pydevts bench`: which
// emulated links to run, for how long, and which transports to compare on
// each (pydevts, kernel TCP with CUBIC and with BBR, quic-go). It parses,
// validates and expands them into [Scenario] values, one per run; it runs
// nothing. [Default] is the built-in quick set (under three minutes),
// [Full] the whole built-in matrix; both are YAML files embedded in the
// package ([DefaultYAML], [FullYAML]) and parsed like any other.
//
// # The file
//
//	defaults:                # every key optional; these are the built-in values
//	  duration: 4s           # per run, warm-up included
//	  warmup: 1s             # excluded from the results; shorter than duration
//	  repetitions: 3
//	  transports: [pydevts, tcp-cubic, tcp-bbr, quic-go]
//	  mtu: 1500              # 576 to 65535
//	  seed: 1
//	  slack: 250us
//	  workload: bulk         # bulk, messages, idle or fairness: see Workloads below
//	  message_size: 1KiB     # messages only: 16 bytes to 1MiB
//	  message_rate: 200      # messages only: per second, or 200/s; up to 10000
//	scenarios:
//	  - name: random-loss    # letters, digits, . _ -; unique in the file
//	    link: {delay: 10ms, rate: 200mbit}
//	    matrix: {loss: [1%, 5%]}
//	  - name: asymmetric
//	    link: {delay: 10ms}
//	    b_to_a: {delay: 40ms, loss: 1%}
//	  - name: outage
//	    link: {delay: 10ms}
//	    duration: 8s         # any defaults key, for this scenario only
//	    timeline: [{at: 3s, set: {loss: 100%}}, {at: 4s, set: {loss: 0%}}]
//	  - name: ceiling
//	    ceiling: true
//	  - name: messages-5pct
//	    link: {delay: 20ms, loss: 5%}
//	    workload: messages
//	    message_size: 1KiB
//	    message_rate: 200
//	  - name: idle-1000
//	    ceiling: true        # idle may run on loopback
//	    workload: idle
//	    connections: 1000
//	  - name: fairness-50mbit
//	    link: {delay: 10ms, rate: 50mbit}
//	    workload: fairness
//	    flows: [[pydevts, pydevts], [pydevts, tcp-cubic]]
//	    stagger: 1s
//
// The link fields take netem's names and meanings, so tc-netem(8)
// documents them: delay (one way), jitter, keep_order, loss, gemodel {p,
// r, loss_bad, loss_good}, bursts {loss, mean}, reorder, duplicate,
// corrupt, rate, queue. They map one to one onto [linkemu.Spec], except:
//
//   - keep_order is true unless a file says false, because jitter without
//     it reorders almost every packet (research/linkemu.md, pitfall 6);
//   - loss, gemodel and bursts are one field, the loss model: setting one
//     replaces the others (linkemu forbids Loss and GE together), and one
//     mapping may set only one of them;
//   - gemodel needs p and r; loss_bad defaults to 100% and loss_good to 0%;
//   - bursts {loss: 3%, mean: 4} is [linkemu.Burst](0.03, 4): 3% loss in
//     bursts of 4 packets on average.
//
// link sets both directions; a_to_b and b_to_a set fields of one direction
// on top of it. A matrix maps link fields (any but gemodel and bursts) to
// lists of values and expands into one run per combination, named
// "name/key=value,key=value" in the file's order, the first key varying
// slowest; a matrix key may not also be set by link, a_to_b or b_to_a. A
// timeline lists changes in time order, each at a time inside (0,
// duration): set changes the fields it lists in both directions, a_to_b
// and b_to_a in one, each on top of the link as it was just before. A
// ceiling scenario runs on real loopback without the emulator and takes no
// link, a_to_b, b_to_a, matrix or timeline.
//
// # Workloads
//
// workload says what each run does; a scenario's own workload overrides
// the defaults'. A key that belongs to one workload is refused in a
// scenario that runs another: message_size and message_rate may also be
// set in defaults, for the scenarios that run messages; connections, flows
// and stagger go in the scenario alone.
//
//   - bulk (the default): one bulk transfer per run for duration, goodput
//     counted after warmup, with request/response probes beside it:
//     goodput, and latency idle and under load.
//   - messages: a message of message_size bytes every 1/message_rate
//     seconds, paced by the clock and never waiting for earlier messages;
//     the receiver times each one from send to delivery: delivery latency
//     percentiles and how many of the messages sent after the warm-up
//     arrived. A messages run holds at least one message after its warm-up
//     and at most 1,000,000 in all, and is no ceiling run.
//   - idle: connections (default 1000, at most 10000) connections from one
//     client endpoint to one server endpoint, each proven by one exchange;
//     then nothing for duration. The first warmup of it lets the
//     connections settle; over the rest, the server process's CPU (as a
//     share of one core) and its memory per connection are measured, and
//     at the end every connection must answer once more. Runs pydevts and
//     quic-go only (kernel TCP keeps its connections in the kernel, out of
//     the process's sight): inherited transports are narrowed to those,
//     and a scenario that names another is refused. ceiling: true runs it
//     on loopback; otherwise it crosses the emulated link.
//   - fairness: flows, a pair of transports ([pydevts, tcp-cubic]) or a
//     list of pairs ([[pydevts, pydevts], [pydevts, tcp-cubic]]), each
//     pair one row: both flows of a pair run a bulk transfer across the
//     same emulated link at once, and each one's goodput after warmup,
//     Jain's fairness index and the ratio first/second are reported. The
//     link needs a rate from A to B, the bottleneck they share (queue
//     sizes its buffer; by default one bandwidth-delay product). stagger
//     (default 0) starts the second flow that much later; goodput is then
//     counted only while both run, after the later one's warm-up, so
//     stagger + warmup must be shorter than duration. The transports come
//     from flows, so the scenario takes no transports, and no ceiling.
//
// A ceiling run is bulk or idle. A timeline may change the link under
// bulk and messages runs; neither idle nor fairness takes one.
//
// # Units
//
//   - Durations are Go's: 10ms, 250us (or 250µs), 1.5s, 0. Never negative.
//   - Probabilities are a percentage, 5% or 0.1%, or a fraction, 0.05, in
//     [0, 1]. A bare number above 1, such as 5, is refused with a hint.
//   - Rates are bits per second with tc(8)'s SI units, in any case: bit,
//     kbit, mbit, gbit, tbit (64000bit, 500kbit, 200mbit, 1.5gbit). A bare
//     0 is unlimited; other bare numbers are refused, and so are bps, kbps,
//     mbps, gbps and tbps: tc reads them as bytes per second and most
//     people as bits, a factor of 8 either way.
//   - Sizes are bytes: 1500, 1500B, or IEC multiples KiB, MiB, GiB (64KiB,
//     1MiB). kB, MB and tc's kb are refused: 1000 or 1024 is a guess.
//   - Message rates are messages per second, a decimal number with "/s"
//     after it or not: 200, 200/s, 0.5.
//
// Numbers are plain decimals (no exponent, hex or underscores), and a rate
// or size must come out a whole number of bits or bytes.
//
// A file is one YAML document. Anchors and aliases work anywhere (link:
// &l {...} then a_to_b: *l); merge keys (<<) do not. A file expands into
// at most 1000 runs and a timeline holds at most 100 events: more is a
// mistake (1000 runs of the defaults take 13 hours), and the bounds keep
// Parse small on any input.
//
// # Errors
//
// Parse reports the first problem with the file name, the line and the
// path of the field, in the form compilers use:
//
//	scenarios.yaml:14: scenarios[2].link.loss: "5 %" is not a probability (want e.g. 5% or 0.05)
//
// Unknown keys are errors (a misspelt key would otherwise do nothing), with
// a suggestion when a known key is close. YAML syntax errors carry
// yaml.v3's line, counted from 1. Checks that [linkemu.Spec.Validate]
// makes (jitter above delay, reorder without delay, ...) are reported at
// the link mapping that made the Spec.
package scenario
