package main

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/parley-chat/parley/internal/api"
	"github.com/parley-chat/parley/internal/kafka"
	"github.com/parley-chat/parley/internal/parley"
	"github.com/parley-chat/parley/web"
)

// topicAdmin adapts the Kafka client to the API's admin routes, limited to
// Parley's own topics.
type topicAdmin struct {
	kafka  *kafka.Client
	topics parley.Topics
}

// names returns Parley's topics: the fixed ones and the dedicated group
// topics.
func (a topicAdmin) names(ctx context.Context) ([]string, error) {
	t := a.topics
	dedicated, err := a.kafka.ListTopics(ctx, t.GroupPrefix)
	if err != nil {
		return nil, err
	}
	return append([]string{t.DeadLetters, t.DirectMessages, t.GroupMessages, t.Notifications}, dedicated...), nil
}

// Topics describes Parley's topics.
func (a topicAdmin) Topics(ctx context.Context) ([]api.TopicInfo, error) {
	names, err := a.names(ctx)
	if err != nil {
		return nil, err
	}
	infos, err := a.kafka.DescribeTopics(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := make([]api.TopicInfo, len(infos))
	for i, t := range infos {
		out[i] = api.TopicInfo{
			Name: t.Name, ReplicationFactor: int(t.ReplicationFactor), RetentionMs: -1,
			Configs: t.Configs, Lag: t.Lag,
		}
		if v, err := strconv.ParseInt(t.Configs["retention.ms"], 10, 64); err == nil {
			out[i].RetentionMs = v
		}
		for _, p := range t.Partitions {
			out[i].Partitions = append(out[i].Partitions, api.PartitionInfo{
				Partition: p.Partition, Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR,
				Start: p.Start, End: p.End,
			})
		}
	}
	return out, nil
}

// UpdateTopic changes a topic's retention or grows its partitions.
func (a topicAdmin) UpdateTopic(ctx context.Context, name string, u api.TopicUpdate) error {
	names, err := a.names(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(names, name) {
		return parley.Errorf(parley.ErrNotFound, "topic_not_found", "%q is not one of Parley's topics", name)
	}
	var configs map[string]string
	if u.RetentionMs != nil {
		configs = map[string]string{"retention.ms": strconv.FormatInt(*u.RetentionMs, 10)}
	}
	var partitions int32
	if u.Partitions != nil {
		partitions = *u.Partitions
	}
	err = a.kafka.AlterTopic(ctx, name, configs, partitions)
	if errors.Is(err, parley.ErrInvalid) {
		return parley.Errorf(parley.ErrInvalid, "invalid_topic_change", "%v", err)
	}
	return err
}

// webUI is the browser client the binary serves at /.
func webUI() http.Handler { return web.Handler() }
