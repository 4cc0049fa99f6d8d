package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/parley-chat/parley/internal/parley"
)

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name string
	// Partitions is the number of partitions; zero or less means the
	// broker's default.
	Partitions int32
	// ReplicationFactor is the number of copies of each partition; zero or
	// less means the broker's default.
	ReplicationFactor int16
	// Configs are topic configs such as retention.ms, retention.bytes,
	// cleanup.policy or min.insync.replicas; nil keeps the broker's
	// defaults.
	Configs map[string]string
}

// TopicInfo describes an existing topic.
type TopicInfo struct {
	Name              string
	ReplicationFactor int16
	Partitions        []PartitionInfo // sorted by partition
	// Configs holds every config the broker reports for the topic, set or
	// default, sensitive ones left out.
	Configs map[string]string
	// Lag holds, for every consumer group with an offset committed on one
	// of the topic's partitions, how many records the group has yet to read
	// on the topic: the sum over those partitions of the high watermark
	// minus the larger of the committed offset and the log start.
	Lag map[string]int64
}

// PartitionInfo describes one partition of a topic.
type PartitionInfo struct {
	Partition int32
	Leader    int32 // broker ID, -1 when the partition has no leader
	Replicas  []int32
	ISR       []int32
	Start     int64 // log start offset
	End       int64 // high watermark
}

// EnsureTopics creates the topics of specs that do not exist yet, with
// their settings, and leaves existing ones as they are, even when their
// settings differ. It logs each topic it creates.
func (c *Client) EnsureTopics(ctx context.Context, specs []TopicSpec) error {
	if len(specs) == 0 {
		return nil
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	existing, err := c.existingTopics(ctx, names)
	if err != nil {
		return err
	}

	for _, s := range specs {
		if existing[s.Name] {
			continue
		}
		if err := c.createTopic(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// existingTopics returns which of names exist.
func (c *Client) existingTopics(ctx context.Context, names []string) (map[string]bool, error) {
	tds, err := c.admin.ListTopics(fresh(ctx), names...)
	if err != nil {
		return nil, wrapErr("list topics", err)
	}
	out := make(map[string]bool, len(names))
	for _, td := range tds {
		switch {
		case td.Err == nil:
			out[td.Topic] = true
		case errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		default:
			return nil, wrapErr("describe topic "+td.Topic, td.Err)
		}
	}
	return out, nil
}

func (c *Client) createTopic(ctx context.Context, s TopicSpec) error {
	parts, rf := s.Partitions, s.ReplicationFactor
	if parts <= 0 {
		parts = -1
	}
	if rf <= 0 {
		rf = -1
	}
	configs := make(map[string]*string, len(s.Configs))
	for k, v := range s.Configs {
		configs[k] = &v
	}

	resp, err := c.admin.CreateTopic(fresh(ctx), parts, rf, configs, s.Name)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		// Another node created it between our look and our create.
		return nil
	case err != nil:
		return wrapErr("create topic "+s.Name, withMessage(err, resp.ErrMessage))
	}
	c.log.Info("topic created", "topic", s.Name, "partitions", resp.NumPartitions,
		"replication_factor", resp.ReplicationFactor, "configs", s.Configs)
	return nil
}

// withMessage adds the broker's explanation, when it gave one, to err.
func withMessage(err error, msg string) error {
	if msg == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, msg)
}

// ListTopics returns the names of the topics that start with prefix, sorted,
// internal topics left out.
func (c *Client) ListTopics(ctx context.Context, prefix string) ([]string, error) {
	tds, err := c.admin.ListTopics(fresh(ctx))
	if err != nil {
		return nil, wrapErr("list topics", err)
	}
	var out []string
	for _, name := range tds.Names() {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out, nil
}

// DescribeTopics describes the named topics, in the order given. A topic
// that does not exist makes the error wrap parley.ErrNotFound.
func (c *Client) DescribeTopics(ctx context.Context, names ...string) ([]TopicInfo, error) {
	if len(names) == 0 {
		return nil, nil
	}
	tds, err := c.admin.ListTopics(fresh(ctx), names...)
	if err == nil {
		err = tds.Error()
	}
	if err != nil {
		return nil, wrapErr("describe topics", err)
	}
	configs, err := c.topicConfigs(ctx, names)
	if err != nil {
		return nil, err
	}
	bounds, err := c.Bounds(ctx, names...)
	if err != nil {
		return nil, err
	}
	lags, err := c.groupLags(ctx, names, bounds)
	if err != nil {
		return nil, err
	}

	out := make([]TopicInfo, 0, len(names))
	for _, name := range names {
		info := topicInfo(tds[name], bounds)
		info.Configs = configs[name]
		info.Lag = lags[name]
		out = append(out, info)
	}
	return out, nil
}

func topicInfo(td kadm.TopicDetail, bounds map[parley.TopicPartition]parley.Bounds) TopicInfo {
	info := TopicInfo{Name: td.Topic}
	for _, pd := range td.Partitions.Sorted() {
		b := bounds[parley.TopicPartition{Topic: td.Topic, Partition: pd.Partition}]
		info.Partitions = append(info.Partitions, PartitionInfo{
			Partition: pd.Partition,
			Leader:    pd.Leader,
			Replicas:  pd.Replicas,
			ISR:       pd.ISR,
			Start:     b.Start,
			End:       b.End,
		})
		info.ReplicationFactor = max(info.ReplicationFactor, int16(len(pd.Replicas)))
	}
	return info
}

// topicConfigs returns the configs of each topic.
func (c *Client) topicConfigs(ctx context.Context, names []string,
) (map[string]map[string]string, error) {
	rcs, err := c.admin.DescribeTopicConfigs(fresh(ctx), names...)
	if err != nil {
		return nil, wrapErr("describe topic configs", err)
	}
	out := make(map[string]map[string]string, len(rcs))
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, wrapErr("describe configs of "+rc.Name, withMessage(rc.Err, rc.ErrMessage))
		}
		m := make(map[string]string, len(rc.Configs))
		for _, cfg := range rc.Configs {
			if !cfg.Sensitive && cfg.Value != nil {
				m[cfg.Key] = *cfg.Value
			}
		}
		out[rc.Name] = m
	}
	return out, nil
}

// groupLags returns, per topic, the lag of every group that committed an
// offset on it. It asks every group for its offsets: fine for the few
// groups Parley runs, slow on a cluster with thousands.
func (c *Client) groupLags(ctx context.Context, topics []string,
	bounds map[parley.TopicPartition]parley.Bounds,
) (map[string]map[string]int64, error) {
	groups, err := c.admin.ListGroups(fresh(ctx))
	if err != nil {
		return nil, wrapErr("list groups", err)
	}
	out := make(map[string]map[string]int64, len(topics))
	if len(groups) == 0 {
		return out, nil
	}
	wanted := make(map[string]bool, len(topics))
	for _, t := range topics {
		wanted[t] = true
	}

	fetched := c.admin.FetchManyOffsets(fresh(ctx), groups.Groups()...)
	for group, resp := range fetched {
		if resp.Err != nil {
			// A group of another kind (a share group) has no such
			// offsets: skip it rather than fail the description.
			continue
		}
		resp.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 || !wanted[o.Topic] {
				return
			}
			b := bounds[parley.TopicPartition{Topic: o.Topic, Partition: o.Partition}]
			if out[o.Topic] == nil {
				out[o.Topic] = make(map[string]int64)
			}
			out[o.Topic][group] += max(0, b.End-max(o.At, b.Start))
		})
	}
	return out, nil
}

// AlterTopic sets the topic's configs and, when partitions is above zero,
// grows it to that many partitions. A config whose value is empty returns
// to the broker's default. Partitions can only grow: asking for fewer than
// the topic has fails with parley.ErrInvalid, and zero leaves them as they
// are. Growing a keyed topic moves keys to other partitions from then on,
// which breaks the order of their records across the change.
func (c *Client) AlterTopic(ctx context.Context, name string, configs map[string]string,
	partitions int32,
) error {
	if len(configs) > 0 {
		if err := c.alterConfigs(ctx, name, configs); err != nil {
			return err
		}
	}
	if partitions > 0 {
		return c.growPartitions(ctx, name, partitions)
	}
	return nil
}

func (c *Client) alterConfigs(ctx context.Context, name string, configs map[string]string) error {
	alters := make([]kadm.AlterConfig, 0, len(configs))
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		v := configs[k]
		if v == "" {
			alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			continue
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}

	resps, err := c.admin.AlterTopicConfigs(fresh(ctx), alters, name)
	if err != nil {
		return wrapErr("alter topic configs", err)
	}
	for _, r := range resps {
		if r.Err != nil {
			return wrapErr("alter configs of "+name, withMessage(r.Err, r.ErrMessage))
		}
	}
	c.log.Info("topic configs altered", "topic", name, "configs", configs)
	return nil
}

func (c *Client) growPartitions(ctx context.Context, name string, partitions int32) error {
	tds, err := c.admin.ListTopics(fresh(ctx), name)
	if err == nil {
		err = tds.Error()
	}
	if err != nil {
		return wrapErr("describe topic "+name, err)
	}
	have := int32(len(tds[name].Partitions))
	switch {
	case partitions == have:
		return nil
	case partitions < have:
		return fmt.Errorf("alter topic %s: %w: has %d partitions, cannot shrink to %d",
			name, parley.ErrInvalid, have, partitions)
	}

	resps, err := c.admin.UpdatePartitions(fresh(ctx), int(partitions), name)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return wrapErr("grow partitions of "+name, err)
	}
	c.log.Info("topic partitions grown", "topic", name, "from", have, "to", partitions)
	return nil
}

// CommitGroupOffsets commits offsets for group: each is the offset of the
// next record the group will read on its partition. The broker refuses it
// while the group has active members.
func (c *Client) CommitGroupOffsets(ctx context.Context, group string,
	offsets map[parley.TopicPartition]int64,
) error {
	kos := make(kadm.Offsets)
	for tp, at := range offsets {
		kos.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: at, LeaderEpoch: -1})
	}
	resps, err := c.admin.CommitOffsets(fresh(ctx), group, kos)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return wrapErr("commit offsets of group "+group, err)
	}
	c.log.Info("group offsets committed", "group", group, "partitions", len(offsets))
	return nil
}
