package metrics

import "github.com/prometheus/client_golang/prometheus"

// A metric is the description of one metric and its type, from which a
// collector makes constant metrics at each scrape.
type metric struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
}

// A descSet is the metrics of one collector, in the order they are made,
// for Describe.
type descSet []metric

func (s *descSet) add(typ prometheus.ValueType, name, help string, labels []string) metric {
	m := metric{prometheus.NewDesc(name, help, labels, nil), typ}
	*s = append(*s, m)
	return m
}

// counter adds a counter: name must end in _total.
func (s *descSet) counter(name, help string, labels ...string) metric {
	return s.add(prometheus.CounterValue, name, help, labels)
}

// gauge adds a gauge.
func (s *descSet) gauge(name, help string, labels ...string) metric {
	return s.add(prometheus.GaugeValue, name, help, labels)
}

func (s descSet) describe(ch chan<- *prometheus.Desc) {
	for _, m := range s {
		ch <- m.desc
	}
}

// emit sends the metric's value v, with the values of its labels.
func (m metric) emit(ch chan<- prometheus.Metric, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(m.desc, m.typ, v, labels...)
}

// emitU is emit for a counter kept as a uint64.
func (m metric) emitU(ch chan<- prometheus.Metric, v uint64, labels ...string) {
	m.emit(ch, float64(v), labels...)
}
