package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/internal/parley"
)

// TopicAdmin shows and changes Kafka topics for the /v1/admin routes. The
// serve command adapts the Kafka client to it. Implementations must be
// safe for concurrent use.
type TopicAdmin interface {
	// Topics describes Parley's topics, sorted by name.
	Topics(ctx context.Context) ([]TopicInfo, error)
	// UpdateTopic applies the non-nil fields of u to the topic. It returns
	// a *parley.Error of kind parley.ErrNotFound for an unknown topic and
	// parley.ErrInvalid for a change Kafka refuses (fewer partitions).
	UpdateTopic(ctx context.Context, name string, u TopicUpdate) error
}

// TopicInfo describes a topic.
type TopicInfo struct {
	Name              string          `json:"name"`
	ReplicationFactor int             `json:"replication_factor"`
	Partitions        []PartitionInfo `json:"partitions"`
	// RetentionMs is retention.ms; -1 keeps records forever.
	RetentionMs int64 `json:"retention_ms"`
	// Configs holds the topic's other configs as Kafka reports them.
	Configs map[string]string `json:"configs,omitempty"`
	// Lag is, per consumer group, the records it has yet to read on the
	// topic.
	Lag map[string]int64 `json:"consumer_lag,omitempty"`
}

// PartitionInfo describes one partition of a topic.
type PartitionInfo struct {
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"` // broker ID, -1 without a leader
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
	Start     int64   `json:"start_offset"`
	End       int64   `json:"end_offset"` // high watermark
}

// TopicUpdate is a change to a topic; nil fields stay as they are.
type TopicUpdate struct {
	// RetentionMs sets retention.ms; -1 keeps records forever.
	RetentionMs *int64 `json:"retention_ms"`
	// Partitions raises the partition count; Kafka cannot lower it.
	Partitions *int32 `json:"partitions"`
}

func (u TopicUpdate) check() error {
	switch {
	case u.RetentionMs == nil && u.Partitions == nil:
		return parley.Errorf(parley.ErrInvalid, "empty_update", "set retention_ms or partitions")
	case u.RetentionMs != nil && *u.RetentionMs < -1:
		return parley.Errorf(parley.ErrInvalid, "invalid_retention",
			"retention_ms must be -1 or more")
	case u.Partitions != nil && *u.Partitions < 1:
		return parley.Errorf(parley.ErrInvalid, "invalid_partitions",
			"partitions must be 1 or more")
	}
	return nil
}

// topics lists the topics.
func (s *Server) topics(w http.ResponseWriter, r *http.Request) {
	if s.admin == nil {
		s.writeError(w, r, errNoAdmin)
		return
	}
	ts, err := s.admin.Topics(r.Context())
	s.writeResult(w, r, http.StatusOK, map[string]any{"topics": nonNil(ts)}, err)
}

// updateTopic changes a topic and returns it as it is now.
func (s *Server) updateTopic(w http.ResponseWriter, r *http.Request) {
	if s.admin == nil {
		s.writeError(w, r, errNoAdmin)
		return
	}
	var u TopicUpdate
	if err := readJSON(w, r, &u); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := r.PathValue("name")
	if err := u.check(); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.admin.UpdateTopic(r.Context(), name, u); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.findTopic(r.Context(), name)
	s.writeResult(w, r, http.StatusOK, t, err)
}

func (s *Server) findTopic(ctx context.Context, name string) (TopicInfo, error) {
	ts, err := s.admin.Topics(ctx)
	if err != nil {
		return TopicInfo{}, err
	}
	for _, t := range ts {
		if t.Name == name {
			return t, nil
		}
	}
	return TopicInfo{}, parley.Errorf(parley.ErrNotFound, "topic_not_found", "no topic %q", name)
}

// moveGroup moves a group from the shared topic to a topic of its own. It
// answers once the move is done, which takes the producer's delivery
// timeout (about 11 seconds): see node.Service.MoveGroup.
func (s *Server) moveGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Strategy string `json:"strategy"`
	}
	if err := readJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Strategy != parley.StrategyDedicated {
		s.writeError(w, r, parley.Errorf(parley.ErrInvalid, "invalid_strategy",
			"a group can only move to the %q strategy", parley.StrategyDedicated))
		return
	}
	g, err := s.svc.MoveGroup(r.Context(), r.PathValue("id"))
	s.writeResult(w, r, http.StatusOK, g, err)
}
