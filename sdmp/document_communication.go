package sdmp

import (
	"regexp"
	"time"

	"gopkg.in/yaml.v3"
)

// A Communication is an SDMP communication document (docs/communication):
// what one node sends another, signed by the sending node. Exactly one of
// Synchronize, Journal, Request and Response is set. A successful answer
// to a Request is not one of these but the raw resource file (D16).
type Communication struct {
	// Node is sdmp.node: the fingerprint of the sending node, whose key
	// signs the document. (In a resource, sdmp.node is a NodeInfo; D17.)
	Node string
	// Created is sdmp.created, for people only.
	Created time.Time

	Synchronize *Synchronize
	Journal     *JournalList
	Request     *ResourceRequest
	Response    *Response
}

// Synchronize (sdmp.communication.synchronize) asks a node for the journal
// lines after Since.
type Synchronize struct {
	// Since is the line number of the last journal line the requester
	// knows (D9): the answer starts with the line after it.
	Since string
	// Limit is the most lines wanted; 0 leaves it to the responder.
	Limit int
}

// JournalList (sdmp.communication.journal) is a run of journal lines: the
// answer to a Synchronize, or a broadcast of new lines.
type JournalList struct {
	// Since is the line number of the line just before Entries[0] (D9).
	Since string
	// Entries are whole journal lines, "number@publisher/resource". Their
	// chain is the journal's to check; here each is checked for form.
	Entries []string
}

// ResourceRequest (sdmp.communication.request) asks for one resource.
type ResourceRequest struct {
	// Author is the resource's publisher, the journal line's middle
	// field (D11).
	Author string
	// Resource is the resource identifier.
	Resource string
}

// Response (sdmp.communication.response) is a node's answer when it does
// not send what was asked: StatusBadRequest, StatusNotFound or
// StatusRequestTimeout.
type Response struct {
	// Request is the resource identifier of the request answered (the
	// ResourceID of its stream); required with StatusBadRequest.
	Request string
	// Status is one of the three statuses SDMP 0.9 defines.
	Status int
	// Description is for people; optional.
	Description string
}

var (
	symlCommunicationFields = []string{"version", "node", "created", "communication"}
	symlCommunicationKinds  = []string{"synchronize", "journal", "request", "response"}
)

// symlJournalLineRe is a journal line of SDMP 0.9 (docs/journal).
var symlJournalLineRe = regexp.MustCompile(`^[0-9a-f]{64}@[0-9a-f]{64}/[0-9a-f]{64}$`)

// Kind is KindSynchronize, KindJournal, KindRequest or KindResponse.
func (c *Communication) Kind() Kind {
	switch {
	case c.Synchronize != nil:
		return KindSynchronize
	case c.Journal != nil:
		return KindJournal
	case c.Request != nil:
		return KindRequest
	}
	return KindResponse
}

// Signer is the sending node.
func (c *Communication) Signer() string { return c.Node }

func (*Communication) isDocument() {}

func symlDecodeCommunication(root, sdmp *yaml.Node) (*Communication, error) {
	if len(root.Content) != 2 {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k := root.Content[i].Value; k != "sdmp" {
				return nil, symlErrorf(k, "a communication document has nothing at its root but sdmp")
			}
		}
	}
	f, err := symlFields(sdmp, "sdmp", symlCommunicationFields...)
	if err != nil {
		return nil, err
	}
	if err := symlRequire(f, "sdmp", symlCommunicationFields...); err != nil {
		return nil, err
	}
	if err := symlVersion(f["version"], "sdmp.version"); err != nil {
		return nil, err
	}
	c := &Communication{}
	if c.Node, err = symlHex64(f["node"], "sdmp.node", "the sending node's key fingerprint"); err != nil {
		return nil, err
	}
	if c.Created, err = symlTime(f["created"], "sdmp.created"); err != nil {
		return nil, err
	}
	const at = "sdmp.communication"
	cf, err := symlFields(f["communication"], at, symlCommunicationKinds...)
	if err != nil {
		return nil, err
	}
	if len(cf) != 1 {
		return nil, symlErrorf(at, "holds %d of synchronize, journal, request and response; want exactly one", len(cf))
	}
	switch {
	case cf["synchronize"] != nil:
		c.Synchronize, err = symlDecodeSynchronize(cf["synchronize"])
	case cf["journal"] != nil:
		c.Journal, err = symlDecodeJournal(cf["journal"])
	case cf["request"] != nil:
		c.Request, err = symlDecodeRequest(cf["request"])
	default:
		c.Response, err = symlDecodeResponse(cf["response"])
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func symlDecodeSynchronize(n *yaml.Node) (*Synchronize, error) {
	const at = "sdmp.communication.synchronize"
	f, err := symlFields(n, at, "since", "limit")
	if err != nil {
		return nil, err
	}
	if err := symlRequire(f, at, "since"); err != nil {
		return nil, err
	}
	s := &Synchronize{}
	if s.Since, err = symlHex64(f["since"], at+".since", "a journal line number"); err != nil {
		return nil, err
	}
	if v := f["limit"]; v != nil {
		if s.Limit, err = symlInt(v, at+".limit"); err != nil {
			return nil, err
		}
		if s.Limit < 1 {
			return nil, symlErrorf(at+".limit", "%d; want at least 1, or no limit at all", s.Limit)
		}
	}
	return s, nil
}

func symlDecodeJournal(n *yaml.Node) (*JournalList, error) {
	const at = "sdmp.communication.journal"
	f, err := symlFields(n, at, "since", "entries")
	if err != nil {
		return nil, err
	}
	if err := symlRequire(f, at, "since", "entries"); err != nil {
		return nil, err
	}
	j := &JournalList{}
	if j.Since, err = symlHex64(f["since"], at+".since", "a journal line number"); err != nil {
		return nil, err
	}
	err = symlList(f["entries"], at+".entries", func(n *yaml.Node, path string) error {
		s, err := symlString(n, path)
		if err != nil {
			return err
		}
		if !symlJournalLineRe.MatchString(s) {
			return symlErrorf(path, "want a journal line \"number@publisher/resource\" (three times 64 lowercase hex digits), got %q", symlSnippet([]byte(s), false))
		}
		j.Entries = append(j.Entries, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

func symlDecodeRequest(n *yaml.Node) (*ResourceRequest, error) {
	const at = "sdmp.communication.request"
	f, err := symlFields(n, at, "author", "resource")
	if err != nil {
		return nil, err
	}
	if err := symlRequire(f, at, "author", "resource"); err != nil {
		return nil, err
	}
	r := &ResourceRequest{}
	if r.Author, err = symlHex64(f["author"], at+".author", "the publisher's key fingerprint"); err != nil {
		return nil, err
	}
	if r.Resource, err = symlHex64(f["resource"], at+".resource", "a resource identifier"); err != nil {
		return nil, err
	}
	return r, nil
}

func symlDecodeResponse(n *yaml.Node) (*Response, error) {
	const at = "sdmp.communication.response"
	f, err := symlFields(n, at, "request", "status", "description")
	if err != nil {
		return nil, err
	}
	if err := symlRequire(f, at, "status"); err != nil {
		return nil, err
	}
	r := &Response{}
	if r.Status, err = symlInt(f["status"], at+".status"); err != nil {
		return nil, err
	}
	switch r.Status {
	case StatusBadRequest, StatusNotFound, StatusRequestTimeout:
	default:
		return nil, symlErrorf(at+".status", "%d is not a status of SDMP 0.9 (400, 404 or 408)", r.Status)
	}
	if v := f["request"]; v != nil {
		if r.Request, err = symlHex64(v, at+".request", "the request's resource identifier"); err != nil {
			return nil, err
		}
	} else if r.Status == StatusBadRequest {
		return nil, symlErrorf(at+".request", "missing: a 400 response names the request it answers")
	}
	if v := f["description"]; v != nil {
		if r.Description, err = symlString(v, at+".description"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (c *Communication) node() (*yaml.Node, error) {
	created, err := symlCreated(c.Created, "sdmp.created")
	if err != nil {
		return nil, err
	}
	comm := symlMapNode()
	set := 0
	if s := c.Synchronize; s != nil {
		set++
		var limit *yaml.Node
		if s.Limit != 0 {
			limit = symlIntNode(s.Limit)
		}
		comm = symlMapNode("synchronize", symlMapNode("since", symlStrNode(s.Since), "limit", limit))
	}
	if j := c.Journal; j != nil {
		set++
		comm = symlMapNode("journal", symlMapNode("since", symlStrNode(j.Since), "entries", symlStrList(j.Entries)))
	}
	if r := c.Request; r != nil {
		set++
		comm = symlMapNode("request", symlMapNode("author", symlStrNode(r.Author), "resource", symlStrNode(r.Resource)))
	}
	if r := c.Response; r != nil {
		set++
		comm = symlMapNode("response", symlMapNode("request", symlOptStr(r.Request), "status", symlIntNode(r.Status), "description", symlOptStr(r.Description)))
	}
	if set != 1 {
		return nil, symlErrorf("sdmp.communication", "%d of Synchronize, Journal, Request and Response are set; want exactly one", set)
	}
	sdmp := symlMapNode("version", symlVersionNode(), "node", symlStrNode(c.Node), "created", created, "communication", comm)
	return symlMapNode("sdmp", sdmp), nil
}

// NewResponse returns a Response for the request whose stream is request
// (nil if the answer is to no particular request), as a node sends it.
func NewResponse(request []byte, status int, description string) *Response {
	r := &Response{Status: status, Description: description}
	if request != nil {
		r.Request = ResourceID(request)
	}
	return r
}
