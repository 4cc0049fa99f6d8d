package parley

// Topics names the Kafka topics Parley uses. The zero value of a field
// means its default (DefaultTopics).
type Topics struct {
	DirectMessages string // DMs, keyed by conversation "dm:<a>:<b>"
	GroupMessages  string // shared group topic, keyed by group ID
	Notifications  string // notifications, keyed by recipient or none
	DeadLetters    string // records that could not be understood
	// GroupPrefix starts the name of a group's dedicated topic.
	GroupPrefix string
}

// DefaultTopics are the topic names PRODUCT.md promises.
var DefaultTopics = Topics{
	DirectMessages: "direct-messages",
	GroupMessages:  "group-messages",
	Notifications:  "notifications",
	DeadLetters:    "parley.dead-letters",
	GroupPrefix:    "group.",
}

// WithDefaults returns t with every empty name set to its default.
func (t Topics) WithDefaults() Topics {
	d := DefaultTopics
	if t.DirectMessages != "" {
		d.DirectMessages = t.DirectMessages
	}
	if t.GroupMessages != "" {
		d.GroupMessages = t.GroupMessages
	}
	if t.Notifications != "" {
		d.Notifications = t.Notifications
	}
	if t.DeadLetters != "" {
		d.DeadLetters = t.DeadLetters
	}
	if t.GroupPrefix != "" {
		d.GroupPrefix = t.GroupPrefix
	}
	return d
}

// Dedicated returns the name of a group's dedicated topic.
func (t Topics) Dedicated(groupID string) string { return t.GroupPrefix + groupID }
