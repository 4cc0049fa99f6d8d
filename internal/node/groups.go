package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parley-chat/parley/internal/parley"
)

// NewGroup is what creating a group takes.
type NewGroup struct {
	// ID is optional; a random one is chosen when empty.
	ID   string
	Name string
	// Members are added besides the creator, who becomes the owner.
	Members []string
	// Strategy is optional: "shared" or "dedicated"; empty takes the node's
	// default.
	Strategy string
}

// CreateGroup creates a group owned by its creator.
func (s *Service) CreateGroup(ctx context.Context, owner string, in NewGroup) (
	parley.Group, []parley.Member, error) {
	g, err := s.checkNewGroup(in)
	if err != nil {
		return parley.Group{}, nil, err
	}
	g.Owner, g.CreatedAt = owner, s.now().UTC()

	members := []parley.Member{{User: owner, Role: parley.RoleOwner, JoinedAt: g.CreatedAt}}
	seen := map[string]bool{owner: true}
	for _, u := range in.Members {
		if seen[u] {
			continue
		}
		seen[u] = true
		if _, err := s.User(ctx, u); err != nil {
			return parley.Group{}, nil, err
		}
		members = append(members, parley.Member{User: u, Role: parley.RoleMember, JoinedAt: g.CreatedAt})
	}

	if g.Strategy == parley.StrategyDedicated {
		if err := s.createTopic(ctx, s.codec.Topics.Dedicated(g.ID)); err != nil {
			return parley.Group{}, nil, fmt.Errorf("create group topic: %w", err)
		}
	}
	if err := s.store.CreateGroup(ctx, g, members); err != nil {
		if errors.Is(err, parley.ErrConflict) {
			return parley.Group{}, nil, parley.Errorf(parley.ErrConflict, "group_exists",
				"a group %q exists", g.ID)
		}
		return parley.Group{}, nil, fmt.Errorf("create group: %w", err)
	}
	if g.Strategy == parley.StrategyDedicated {
		// Every node's dispatcher starts tailing the new topic on this
		// record, before the first entry there.
		if err := s.log.Produce(ctx, s.codec.TopicRecord(g.ID)); err != nil {
			return parley.Group{}, nil, fmt.Errorf("produce topic record: %w", err)
		}
	}
	events := make([]*parley.Message, len(members))
	for i, m := range members {
		events[i] = s.newMemberEvent(g, owner, m.User, parley.ActionJoined, m.Role)
	}
	if err := s.produceEntries(ctx, g.Strategy, events...); err != nil {
		return parley.Group{}, nil, err
	}
	s.logger.Debug("group created", "group", g.ID, "user", owner, "members", len(members))
	return g, members, nil
}

func (s *Service) checkNewGroup(in NewGroup) (parley.Group, error) {
	g := parley.Group{ID: in.ID, Name: strings.TrimSpace(in.Name), Strategy: in.Strategy}
	if g.ID == "" {
		g.ID = parley.NewID("g")
	}
	if g.Strategy == "" {
		g.Strategy = s.strategy
	}
	switch {
	case !parley.ValidGroupID(g.ID):
		return g, parley.Errorf(parley.ErrInvalid, "invalid_group_id",
			"group id %q is not valid: use lowercase letters, digits, '_', '-' or '.'", g.ID)
	case g.Name == "" || !utf8.ValidString(g.Name) || len(g.Name) > parley.MaxGroupNameLen:
		return g, parley.Errorf(parley.ErrInvalid, "invalid_group_name",
			"group name must be 1 to %d bytes of UTF-8", parley.MaxGroupNameLen)
	case len(in.Members) > parley.MaxGroupMembers:
		return g, parley.Errorf(parley.ErrTooLarge, "too_many_members",
			"at most %d members can be named at creation", parley.MaxGroupMembers)
	case g.Strategy != parley.StrategyShared && g.Strategy != parley.StrategyDedicated:
		return g, parley.Errorf(parley.ErrInvalid, "invalid_strategy",
			"strategy must be %q or %q", parley.StrategyShared, parley.StrategyDedicated)
	}
	if g.Strategy == parley.StrategyDedicated && s.createTopic == nil {
		return g, parley.Errorf(parley.ErrInvalid, "strategy_unsupported",
			"this server cannot create topics for dedicated groups")
	}
	return g, nil
}

// Group returns a group and its members, for a member.
func (s *Service) Group(ctx context.Context, user, groupID string) (parley.Group, []parley.Member, error) {
	g, _, err := s.memberOf(ctx, user, groupID)
	if err != nil {
		return parley.Group{}, nil, err
	}
	members, err := s.store.Members(ctx, groupID)
	if err != nil {
		return parley.Group{}, nil, fmt.Errorf("list members: %w", err)
	}
	return g, members, nil
}

// Groups lists the groups a user is a member of.
func (s *Service) Groups(ctx context.Context, user string) ([]parley.Group, error) {
	return s.store.GroupsOf(ctx, user)
}

// AddMember adds a user to a group. The owner and admins add members; only
// the owner adds admins.
func (s *Service) AddMember(ctx context.Context, by, groupID, user, role string) (parley.Member, error) {
	if role == "" {
		role = parley.RoleMember
	}
	if role != parley.RoleMember && role != parley.RoleAdmin {
		return parley.Member{}, errInvalidRole(role)
	}
	g, me, err := s.memberOf(ctx, by, groupID)
	if err != nil {
		return parley.Member{}, err
	}
	if !canManage(me.Role) || role == parley.RoleAdmin && me.Role != parley.RoleOwner {
		return parley.Member{}, errNotManager()
	}
	if _, err := s.User(ctx, user); err != nil {
		return parley.Member{}, err
	}
	if _, err := s.store.Member(ctx, groupID, user); err == nil {
		return parley.Member{}, parley.Errorf(parley.ErrConflict, "already_member",
			"%q is already a member", user)
	}
	m := parley.Member{User: user, Role: role, JoinedAt: s.now().UTC()}
	if err := s.store.PutMember(ctx, groupID, m); err != nil {
		return parley.Member{}, fmt.Errorf("add member: %w", err)
	}
	return m, s.memberEvent(ctx, g, by, user, parley.ActionJoined, role)
}

// RemoveMember removes a user from a group: the user themselves (leaving),
// the owner, or an admin removing a plain member. The owner cannot leave.
func (s *Service) RemoveMember(ctx context.Context, by, groupID, user string) error {
	g, me, err := s.memberOf(ctx, by, groupID)
	if err != nil {
		return err
	}
	action := parley.ActionLeft
	target := me
	if user != by {
		action = parley.ActionRemoved
		target, err = s.store.Member(ctx, groupID, user)
		if errors.Is(err, parley.ErrNotFound) {
			return parley.Errorf(parley.ErrNotFound, "member_not_found", "%q is not a member", user)
		} else if err != nil {
			return fmt.Errorf("load member: %w", err)
		}
		if !canManage(me.Role) || target.Role != parley.RoleMember && me.Role != parley.RoleOwner {
			return errNotManager()
		}
	}
	if target.Role == parley.RoleOwner {
		return parley.Errorf(parley.ErrConflict, "owner_cannot_leave",
			"the owner cannot leave or be removed; make another member the owner first")
	}
	if err := s.store.RemoveMember(ctx, groupID, user); err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	return s.memberEvent(ctx, g, by, user, action, "")
}

// SetRole changes a member's role. Only the owner changes roles; making
// another member the owner makes the current owner an admin.
func (s *Service) SetRole(ctx context.Context, by, groupID, user, role string) (parley.Member, error) {
	if !slices.Contains([]string{parley.RoleOwner, parley.RoleAdmin, parley.RoleMember}, role) {
		return parley.Member{}, errInvalidRole(role)
	}
	g, me, err := s.memberOf(ctx, by, groupID)
	if err != nil {
		return parley.Member{}, err
	}
	if me.Role != parley.RoleOwner {
		return parley.Member{}, parley.Errorf(parley.ErrForbidden, "not_owner", "only the owner changes roles")
	}
	target, err := s.store.Member(ctx, groupID, user)
	if errors.Is(err, parley.ErrNotFound) {
		return parley.Member{}, parley.Errorf(parley.ErrNotFound, "member_not_found", "%q is not a member", user)
	} else if err != nil {
		return parley.Member{}, fmt.Errorf("load member: %w", err)
	}
	if user == by {
		return target, nil
	}
	target.Role = role
	if err := s.store.PutMember(ctx, groupID, target); err != nil {
		return parley.Member{}, fmt.Errorf("set role: %w", err)
	}
	if role == parley.RoleOwner {
		me.Role = parley.RoleAdmin
		if err := s.store.PutMember(ctx, groupID, me); err != nil {
			return parley.Member{}, fmt.Errorf("set role: %w", err)
		}
		if err := s.memberEvent(ctx, g, by, by, parley.ActionRole, parley.RoleAdmin); err != nil {
			return parley.Member{}, err
		}
	}
	return target, s.memberEvent(ctx, g, by, user, parley.ActionRole, role)
}

// memberOf returns the group and the user's membership, or a not-found
// error that does not tell a non-member whether the group exists.
func (s *Service) memberOf(ctx context.Context, user, groupID string) (parley.Group, parley.Member, error) {
	notFound := parley.Errorf(parley.ErrNotFound, "group_not_found", "no group %q among yours", groupID)
	if !parley.ValidGroupID(groupID) {
		return parley.Group{}, parley.Member{}, notFound
	}
	m, err := s.store.Member(ctx, groupID, user)
	if errors.Is(err, parley.ErrNotFound) {
		return parley.Group{}, parley.Member{}, notFound
	} else if err != nil {
		return parley.Group{}, parley.Member{}, fmt.Errorf("load membership: %w", err)
	}
	g, err := s.store.Group(ctx, groupID)
	if err != nil {
		return parley.Group{}, parley.Member{}, fmt.Errorf("load group: %w", err)
	}
	return g, m, nil
}

// memberEvent writes a membership change to the group's stream. The store
// was changed first, so a node that sees the event and reloads the members
// sees the change.
func (s *Service) memberEvent(ctx context.Context, g parley.Group, by, user, action, role string) error {
	strategy, err := s.settled(ctx, g)
	if err != nil {
		return err
	}
	return s.produceEntries(ctx, strategy, s.newMemberEvent(g, by, user, action, role))
}

func (s *Service) newMemberEvent(g parley.Group, by, user, action, role string) *parley.Message {
	return &parley.Message{
		ID: parley.NewID("m"), Type: parley.TypeMember, Conversation: parley.GroupConversation(g.ID),
		From: by, SentAt: s.now().UTC(),
		Member: &parley.MemberChange{User: user, Action: action, Role: role},
	}
}

func canManage(role string) bool { return role == parley.RoleOwner || role == parley.RoleAdmin }

func errNotManager() error {
	return parley.Errorf(parley.ErrForbidden, "not_allowed", "your role in this group does not allow that")
}

func errInvalidRole(role string) error {
	return parley.Errorf(parley.ErrInvalid, "invalid_role", "role %q is not valid", role)
}
