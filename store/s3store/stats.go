package s3store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Stats counts what a Store asked of the bucket: HTTP requests by S3
// operation (each retry counts), and the body bytes sent and received.
type Stats struct {
	Requests       map[string]int64 // "GetObject", "PutObject", ...
	Sent, Received int64
}

// Total is the number of requests of all operations.
func (st Stats) Total() int64 {
	var n int64
	for _, v := range st.Requests {
		n += v
	}
	return n
}

// counters is the live form of Stats.
type counters struct {
	mu             sync.Mutex
	requests       map[string]int64
	sent, received atomic.Int64
}

// instrument returns a copy of c that counts into k. The counting
// happens after the retry step, so it sees every request on the wire.
func (k *counters) instrument(c *s3.Client) *s3.Client {
	k.requests = map[string]int64{}
	return s3.New(c.Options(), func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Add(middleware.DeserializeMiddlewareFunc("sealfsStats",
				func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok && req.ContentLength > 0 {
						k.sent.Add(req.ContentLength)
					}
					k.mu.Lock()
					k.requests[middleware.GetOperationName(ctx)]++
					k.mu.Unlock()
					out, md, err := next.HandleDeserialize(ctx, in)
					if resp, ok := out.RawResponse.(*smithyhttp.Response); ok && resp.ContentLength > 0 {
						k.received.Add(resp.ContentLength)
					}
					return out, md, err
				}), middleware.After)
		})
	})
}

// Stats returns what the Store has asked of the bucket so far.
func (s *Store) Stats() Stats {
	st := Stats{Requests: map[string]int64{}, Sent: s.counters.sent.Load(), Received: s.counters.received.Load()}
	s.counters.mu.Lock()
	for op, n := range s.counters.requests {
		st.Requests[op] = n
	}
	s.counters.mu.Unlock()
	return st
}

// String lists the requests by operation, most frequent first:
// "GetObject=12 HeadObject=3".
func (st Stats) String() string {
	ops := make([]string, 0, len(st.Requests))
	for op := range st.Requests {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		a, b := st.Requests[ops[i]], st.Requests[ops[j]]
		return a > b || a == b && ops[i] < ops[j]
	})
	var b strings.Builder
	for i, op := range ops {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", op, st.Requests[op])
	}
	return b.String()
}
