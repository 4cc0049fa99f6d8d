package kafka

import (
	"errors"
	"slices"
	"testing"

	"github.com/parley-chat/parley/internal/parley"
)

func TestEnsureTopicsCreatesOnceWithConfigs(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	spec := TopicSpec{
		Name:       topic,
		Partitions: 3,
		Configs:    map[string]string{"retention.ms": "3600000", "cleanup.policy": "delete"},
	}
	ensure(t, c, spec)
	produceN(t, c, topic, "k", "v", 2)

	// A second call with other settings leaves the topic alone.
	changed := spec
	changed.Partitions = 6
	changed.Configs = map[string]string{"retention.ms": "1000"}
	ensure(t, c, changed)

	infos, err := c.DescribeTopics(t.Context(), topic)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	info := infos[0]
	if len(info.Partitions) != 3 {
		t.Errorf("partitions = %d, want 3", len(info.Partitions))
	}
	if info.ReplicationFactor != 1 {
		t.Errorf("replication factor = %d, want 1", info.ReplicationFactor)
	}
	if info.Configs["retention.ms"] != "3600000" || info.Configs["cleanup.policy"] != "delete" {
		t.Errorf("configs = %v, want retention.ms 3600000 and cleanup.policy delete", info.Configs)
	}
	if _, ok := info.Configs["retention.bytes"]; !ok {
		t.Errorf("configs lack retention.bytes: %v", info.Configs)
	}
	var total int64
	for _, p := range info.Partitions {
		total += p.End - p.Start
	}
	if total != 2 {
		t.Errorf("partitions hold %d records, want 2", total)
	}
}

func TestDescribeTopicsLag(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{Name: topic, Partitions: 1})
	produceN(t, c, topic, "", "v", 10)

	tp := parley.TopicPartition{Topic: topic}
	commit := func(group string, at int64) error {
		return c.CommitGroupOffsets(t.Context(), group, map[parley.TopicPartition]int64{tp: at})
	}
	if err := commit("archiver", 4); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := commit("done", 10); err != nil {
		t.Fatalf("commit: %v", err)
	}

	infos, err := c.DescribeTopics(t.Context(), topic)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	lag := infos[0].Lag
	if lag["archiver"] != 6 || lag["done"] != 0 || len(lag) != 2 {
		t.Fatalf("lag = %v, want archiver 6 and done 0", lag)
	}
}

func TestDescribeMissingTopic(t *testing.T) {
	_, c := setup(t)
	if _, err := c.DescribeTopics(t.Context(), "missing"); !errors.Is(err, parley.ErrNotFound) {
		t.Fatalf("describe a missing topic: err = %v, want ErrNotFound", err)
	}
}

func TestAlterTopic(t *testing.T) {
	_, c := setup(t)
	topic := topicName(t)
	ensure(t, c, TopicSpec{
		Name:       topic,
		Partitions: 2,
		Configs:    map[string]string{"retention.bytes": "1000000"},
	})

	configs := map[string]string{"retention.ms": "60000", "retention.bytes": ""}
	err := c.AlterTopic(t.Context(), topic, configs, 4)
	if err != nil {
		t.Fatalf("alter: %v", err)
	}
	infos, err := c.DescribeTopics(t.Context(), topic)
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	if got := infos[0]; len(got.Partitions) != 4 || got.Configs["retention.ms"] != "60000" ||
		got.Configs["retention.bytes"] == "1000000" {
		t.Fatalf("after alter: %d partitions, configs %v; want 4, retention.ms 60000, "+
			"retention.bytes back to default", len(got.Partitions), got.Configs)
	}

	if err := c.AlterTopic(t.Context(), topic, nil, 2); !errors.Is(err, parley.ErrInvalid) {
		t.Errorf("shrink: err = %v, want ErrInvalid", err)
	}
	if err := c.AlterTopic(t.Context(), topic, nil, 4); err != nil {
		t.Errorf("same partition count: %v", err)
	}
}

func TestListTopicsByPrefix(t *testing.T) {
	_, c := setup(t)
	ensure(t, c,
		TopicSpec{Name: "group.b", Partitions: 1},
		TopicSpec{Name: "group.a", Partitions: 1},
		TopicSpec{Name: "notifications", Partitions: 1},
	)
	got, err := c.ListTopics(t.Context(), "group.")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if !slices.Equal(got, []string{"group.a", "group.b"}) {
		t.Fatalf("list group. = %v, want group.a, group.b", got)
	}
}
