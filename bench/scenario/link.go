package scenario

import (
	"github.com/pydevts/pydevts/bench/linkemu"
	"gopkg.in/yaml.v3"
)

// field is one settable part of a linkemu.Spec. Loss, gemodel and bursts
// are three spellings of one field, the loss model: Spec.Validate forbids
// Loss and GE together, so setting one replaces the other, and an outage
// (loss: 100%) can interrupt a bursty link.
type field uint8

const (
	fDelay field = iota
	fJitter
	fKeepOrder
	fLossModel
	fReorder
	fDuplicate
	fCorrupt
	fRate
	fQueue
	numFields
)

// linkField is a link key of the file: its name, the field it sets, and
// how to parse its value into a Spec.
type linkField struct {
	name  string
	field field
	// scalar fields can be matrix keys; gemodel and bursts take a mapping,
	// which has no short text to name a run by.
	scalar bool
	parse  func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) error
}

// linkFields lists the link keys in the order the documentation gives.
var linkFields = []linkField{
	{"delay", fDelay, true, func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) (err error) {
		s.Delay, err = value(d, n, path, "a duration", parseDuration)
		return err
	}},
	{"jitter", fJitter, true, func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) (err error) {
		s.Jitter, err = value(d, n, path, "a duration", parseDuration)
		return err
	}},
	{"keep_order", fKeepOrder, true, func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) (err error) {
		s.KeepOrder, err = d.boolean(n, path)
		return err
	}},
	{"loss", fLossModel, true, func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) (err error) {
		s.Loss, err = value(d, n, path, "a probability", parseProb)
		s.GE = nil
		return err
	}},
	{"gemodel", fLossModel, false, (*decoder).gemodel},
	{"bursts", fLossModel, false, (*decoder).bursts},
	{"reorder", fReorder, true, func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) (err error) {
		s.Reorder, err = value(d, n, path, "a probability", parseProb)
		return err
	}},
	{"duplicate", fDuplicate, true, func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) (err error) {
		s.Duplicate, err = value(d, n, path, "a probability", parseProb)
		return err
	}},
	{"corrupt", fCorrupt, true, func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) (err error) {
		s.Corrupt, err = value(d, n, path, "a probability", parseProb)
		return err
	}},
	{"rate", fRate, true, func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) (err error) {
		s.Rate, err = value(d, n, path, "a rate", parseRate)
		return err
	}},
	{"queue", fQueue, true, func(d *decoder, n *yaml.Node, path string, s *linkemu.Spec) (err error) {
		s.Queue, err = value(d, n, path, "a size", parseSize)
		return err
	}},
}

// linkNames are the keys of linkFields, for errors.
var linkNames = func() []string {
	names := make([]string, len(linkFields))
	for i, f := range linkFields {
		names[i] = f.name
	}
	return names
}()

func lookupLinkField(name string) (linkField, bool) {
	for _, f := range linkFields {
		if f.name == name {
			return f, true
		}
	}
	return linkField{}, false
}

// patch is a link mapping as written: the fields it sets and their values.
// It is applied on top of a Spec, so that link, a_to_b, b_to_a, matrix
// values and timeline events each change only what they name.
type patch struct {
	node *yaml.Node // the mapping, for errors about the whole
	path string
	set  [numFields]*yaml.Node // the key that set each field, nil if unset
	spec linkemu.Spec          // the values of the fields set
}

func (p *patch) has(f field) bool { return p != nil && p.set[f] != nil }

// empty reports a patch that sets nothing.
func (p *patch) empty() bool {
	for _, k := range p.set {
		if k != nil {
			return false
		}
	}
	return true
}

// apply returns s with p's fields replaced; a nil p replaces none. The GE
// is always copied, so that no two Specs handed out share one (linkemu
// copies what it is given, but a caller may edit a Scenario).
func (p *patch) apply(s linkemu.Spec) linkemu.Spec {
	s.GE = cloneGE(s.GE)
	if p == nil {
		return s
	}
	for f, k := range p.set {
		if k == nil {
			continue
		}
		switch field(f) {
		case fDelay:
			s.Delay = p.spec.Delay
		case fJitter:
			s.Jitter = p.spec.Jitter
		case fKeepOrder:
			s.KeepOrder = p.spec.KeepOrder
		case fLossModel:
			s.Loss, s.GE = p.spec.Loss, cloneGE(p.spec.GE)
		case fReorder:
			s.Reorder = p.spec.Reorder
		case fDuplicate:
			s.Duplicate = p.spec.Duplicate
		case fCorrupt:
			s.Corrupt = p.spec.Corrupt
		case fRate:
			s.Rate = p.spec.Rate
		case fQueue:
			s.Queue = p.spec.Queue
		}
	}
	return s
}

func cloneGE(g *linkemu.GE) *linkemu.GE {
	if g == nil {
		return nil
	}
	c := *g
	return &c
}

// link decodes a link mapping (link, a_to_b, b_to_a, a timeline's set).
func (d *decoder) link(n *yaml.Node, path string) (*patch, error) {
	p := &patch{node: n, path: path}
	err := d.mapping(n, path, linkNames, func(key string, k, v *yaml.Node) error {
		lf, _ := lookupLinkField(key)
		// Keys are unique (mapping checks), so only the three spellings
		// of the loss model can meet here.
		if prev := p.set[lf.field]; prev != nil {
			return d.errf(k, join(path, key), "%s (line %d) already sets the loss model; loss, gemodel and bursts replace each other, set one",
				prev.Value, prev.Line)
		}
		p.set[lf.field] = k
		return lf.parse(d, v, join(path, key), &p.spec)
	})
	return p, err
}

// gemodel decodes netem's "loss gemodel p r 1-h 1-k". p and r are
// required; loss_bad defaults to 100% and loss_good to 0%, the simple
// Gilbert model, where the bad state is the burst.
func (d *decoder) gemodel(n *yaml.Node, path string, s *linkemu.Spec) error {
	g := linkemu.GE{LossBad: 1}
	var hasP, hasR bool
	err := d.mapping(n, path, []string{"p", "r", "loss_bad", "loss_good"}, func(key string, k, v *yaml.Node) (err error) {
		var dst *float64
		switch key {
		case "p":
			dst, hasP = &g.P, true
		case "r":
			dst, hasR = &g.R, true
		case "loss_bad":
			dst = &g.LossBad
		default:
			dst = &g.LossGood
		}
		*dst, err = value(d, v, join(path, key), "a probability", parseProb)
		return err
	})
	switch {
	case err != nil:
		return err
	case !hasP:
		return d.errf(n, join(path, "p"), "missing: the probability of entering the bad state, per packet")
	case !hasR:
		return d.errf(n, join(path, "r"), "missing: the probability of leaving the bad state, per packet")
	}
	s.Loss, s.GE = 0, &g
	return nil
}

// bursts decodes {loss, mean} into linkemu.Burst(loss, mean), checking
// first everything Burst would panic on.
func (d *decoder) bursts(n *yaml.Node, path string, s *linkemu.Spec) error {
	var loss, mean float64
	var lossNode, meanNode *yaml.Node
	err := d.mapping(n, path, []string{"loss", "mean"}, func(key string, k, v *yaml.Node) (err error) {
		if key == "loss" {
			lossNode = v
			loss, err = value(d, v, join(path, key), "a probability", parseProb)
			return err
		}
		meanNode = v
		mean, err = value(d, v, join(path, key), "a number of packets", parseMean)
		return err
	})
	switch {
	case err != nil:
		return err
	case lossNode == nil:
		return d.errf(n, join(path, "loss"), "missing: the share of packets lost, e.g. 3%%")
	case meanNode == nil:
		return d.errf(n, join(path, "mean"), "missing: the mean burst length in packets, e.g. 4")
	case loss == 1:
		return d.errf(lossNode, join(path, "loss"), "100%% is not bursty: every packet is lost; use loss: 100%%")
	}
	// The same arithmetic as Burst, so that the check and the panic agree
	// to the last bit.
	if r := 1 / mean; r*loss/(1-loss) > 1 {
		return d.errf(n, path, "%v loss is unreachable with a mean burst of %v: such bursts allow at most %.4g%%",
			lossNode.Value, meanNode.Value, 100*mean/(mean+1))
	}
	s.Loss, s.GE = 0, linkemu.Burst(loss, mean)
	return nil
}
