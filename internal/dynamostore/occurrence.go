package dynamostore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ecs-medic/ecs-medic/internal/incident"
	"github.com/ecs-medic/ecs-medic/internal/servicestate"
)

// An active incident's occurrence item (pk S#<scope>, sk O#<id>, beside its scope item) counts the
// occurrences that changed nothing else, each with one conditional UpdateItem of an item of about
// a kilobyte, where a rewrite of the scope item would read and write every active incident of the
// scope under a version that 32 concurrent handlers keep changing under each other. What an
// incident is, read, is its record in the scope item with its occurrence item added
// (withOccurrences).
//
// Attributes:
//
//	st        "active", or "closed" once the incident resolved (never active again)
//	sv        the incident's version the item counts for: an occurrence is written only if the
//	          incident is still at the version it was decided on
//	n         occurrences counted here (ADD, so concurrent writers never refuse each other)
//	ls, u     last seen and updated, Unix nanoseconds
//	ss, ssv   the service state read with the last occurrence, and the version it was read at
//	r0..r11   a ring of the last occurrences: "seq|version|nanos|task", slot seq-1 mod 12
//	m<hash>   one attribute per mark of the last 12 to 24 occurrences (its name: the mark's
//	          hash; its value: the epoch, occurrences / 12, it was counted in); a write removes
//	          the ones it read from two epochs back or older
//
// The marks hashes make the write itself refuse an event counted among the last occurrences, so
// that a handler that dies between counting and recording its marks (M# items, written right
// after) is not counted twice when the event is redelivered; older redeliveries meet the marks.
// An attribute per mark keeps that check to one attribute_not_exists per mark: a condition of many
// clauses costs little on DynamoDB but seconds on dynalite, whose parser backtracks.
const (
	// ringSlots is how many occurrences an occurrence item keeps in its ring.
	ringSlots = 12
	occActive = "active"
	occClosed = "closed"
)

// occItem is a decoded occurrence item.
type occItem struct {
	active       bool
	version      int64
	n            int64
	last         time.Time
	updated      time.Time
	state        string
	stateVersion int64
	slots        []occSlot
	marks        map[string]int64 // mark hash → the epoch it was counted in
}

// occSlot is one occurrence in the ring.
type occSlot struct {
	seq, version int64
	at           time.Time
	task         string
}

func occSK(id string) string { return "O#" + id }

// markHashLen is the length of a mark's hash: 48 bits of its SHA-256, in hex.
const markHashLen = 12

// markHash is the form a mark takes in an occurrence item: short, and fit for an attribute name.
func markHash(m string) string {
	sum := sha256.Sum256([]byte(m))
	return hex.EncodeToString(sum[:markHashLen/2])
}

func markHashes(marks []string) []string {
	hs := make([]string, len(marks))
	for i, m := range marks {
		hs[i] = markHash(m)
	}
	return hs
}

func decodeOcc(item map[string]types.AttributeValue) *occItem {
	o := &occItem{
		active:       attrS(item, "st") == occActive,
		version:      attrN(item, "sv"),
		n:            attrN(item, "n"),
		state:        attrS(item, "ss"),
		stateVersion: attrN(item, "ssv"),
	}
	if ls := attrN(item, "ls"); ls != 0 {
		o.last = time.Unix(0, ls).UTC()
	}
	if u := attrN(item, "u"); u != 0 {
		o.updated = time.Unix(0, u).UTC()
	}
	for name := range item {
		if h, ok := strings.CutPrefix(name, "m"); ok && len(h) == markHashLen {
			if o.marks == nil {
				o.marks = map[string]int64{}
			}
			o.marks[h] = attrN(item, name)
		}
	}
	for i := range ringSlots {
		parts := strings.SplitN(attrS(item, "r"+strconv.Itoa(i)), "|", 4)
		if len(parts) != 4 {
			continue
		}
		seq, err1 := strconv.ParseInt(parts[0], 10, 64)
		v, err2 := strconv.ParseInt(parts[1], 10, 64)
		at, err3 := strconv.ParseInt(parts[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		o.slots = append(o.slots, occSlot{seq: seq, version: v, at: time.Unix(0, at).UTC(), task: parts[3]})
	}
	return o
}

// holds reports whether the ring lists the mark hash h.
func (o *occItem) holds(h string) bool {
	_, ok := o.marks[h]
	return ok
}

// withOccurrences is base (an incident as its scope item holds it) with what its occurrence item
// counted added; base itself is not changed. The ring's tasks of version (base's version when it
// was read) join the sample: those of older versions were folded into base when it was written.
func withOccurrences(base *incident.Incident, o *occItem, version int64) *incident.Incident {
	if o == nil {
		return base
	}
	inc := base.Clone()
	occ := &inc.Occurrences
	occ.Count += int(o.n)
	if o.last.After(occ.LastSeen) {
		occ.LastSeen = o.last
	}
	if o.updated.After(inc.UpdatedAt) {
		inc.UpdatedAt = o.updated
	}
	if o.state != "" && o.stateVersion == version {
		var snap servicestate.Snapshot
		if json.Unmarshal([]byte(o.state), &snap) == nil {
			inc.ServiceState, inc.StateError = &snap, ""
		}
	}
	slots := slices.Clone(o.slots)
	slices.SortFunc(slots, func(a, b occSlot) int { return cmp.Compare(a.seq, b.seq) })
	for _, sl := range slots {
		if sl.at.After(occ.LastSeen) {
			occ.LastSeen = sl.at
		}
		if sl.version != version || sl.task == "" || slices.Contains(occ.Tasks, sl.task) {
			continue
		}
		occ.Tasks = append(slices.Clip(occ.Tasks), sl.task)
	}
	if len(occ.Tasks) > incident.MaxSampleTasks {
		occ.Tasks = occ.Tasks[len(occ.Tasks)-incident.MaxSampleTasks:]
	}
	return inc
}

// withoutOccurrences is inc (as fn returned it, occurrence item included) in the form its scope
// item keeps: the occurrence item's count taken out again, since that item keeps counting it.
func withoutOccurrences(inc *incident.Incident, o *occItem) *incident.Incident {
	if o == nil || o.n == 0 {
		return inc
	}
	c := inc.Clone()
	c.Occurrences.Count -= int(o.n)
	return c
}

// occurred is an occurrence that changed nothing but what the occurrence item holds.
type occurred struct {
	task    string
	at      time.Time // the incident's last seen, when the occurrence moved it
	updated time.Time
	state   string // the service state's JSON, when it changed
}

// occurrenceOf says whether fn's change of an incident from before to after is one occurrence
// that the occurrence item can count alone: one more, the same first sighting, evidence, task
// definitions and state error, at most one task added to the sample, and nothing else but the
// update time and the service state read (incident.OnlyOccurred). Anything else (a new incident,
// a severity raised, a relapse, new evidence) is written with the whole scope item.
func occurrenceOf(before, after *incident.Incident) (occurred, bool) {
	if !incident.OnlyOccurred(before, after) || !after.State.Active() {
		return occurred{}, false
	}
	b, a := &before.Occurrences, &after.Occurrences
	if a.Count != b.Count+1 || !a.FirstSeen.Equal(b.FirstSeen) || after.StateError != before.StateError ||
		!slices.Equal(a.Evidence, b.Evidence) || !slices.Equal(a.TaskDefinitions, b.TaskDefinitions) {
		return occurred{}, false
	}
	o := occurred{updated: after.UpdatedAt}
	if !slices.Equal(a.Tasks, b.Tasks) {
		if len(a.Tasks) == 0 {
			return occurred{}, false
		}
		o.task = a.Tasks[len(a.Tasks)-1]
		want := append(slices.Clone(b.Tasks), o.task)
		if len(want) > incident.MaxSampleTasks {
			want = want[len(want)-incident.MaxSampleTasks:]
		}
		if !slices.Equal(want, a.Tasks) || strings.Contains(o.task, "|") {
			return occurred{}, false
		}
	}
	switch {
	case a.LastSeen.After(b.LastSeen):
		o.at = a.LastSeen
	case !a.LastSeen.Equal(b.LastSeen):
		return occurred{}, false
	}
	switch {
	case after.ServiceState == nil && before.ServiceState != nil:
		return occurred{}, false
	case after.ServiceState != nil:
		if st := mustJSON(after.ServiceState); before.ServiceState == nil || st != mustJSON(before.ServiceState) {
			o.state = st
		}
	}
	return o, true
}

// notInRing is the condition that none of the mark hashes is in the occurrence item.
func notInRing(hashes []string) (expression.ConditionBuilder, bool) {
	conds := make([]expression.ConditionBuilder, len(hashes))
	for i, h := range hashes {
		conds[i] = expression.AttributeNotExists(expression.Name("m" + h))
	}
	switch len(conds) {
	case 0:
		return expression.ConditionBuilder{}, false
	case 1:
		return conds[0], true
	}
	return expression.And(conds[0], conds[1], conds[2:]...), true
}

// recordOccurrence counts one occurrence of inc (as read, at its version) with one conditional
// UpdateItem of its occurrence item: refused (ErrConflict) if the incident changed since it was
// read or resolved, or if the ring already holds one of the event's marks.
func (s *Store) recordOccurrence(ctx context.Context, pk string, inc *incident.Incident, o *occItem, oc occurred, hashes []string) error {
	slot := strconv.FormatInt(o.n%ringSlots, 10)
	at := oc.at
	if at.IsZero() {
		at = inc.Occurrences.LastSeen
	}
	upd := expression.Add(expression.Name("n"), expression.Value(1)).
		Set(expression.Name("u"), expression.Value(oc.updated.UnixNano())).
		Set(expression.Name("r"+slot), expression.Value(fmt.Sprintf("%d|%d|%d|%s", o.n+1, inc.Version, at.UnixNano(), oc.task)))
	e := o.n / ringSlots
	for _, h := range hashes {
		upd = upd.Set(expression.Name("m"+h), expression.Value(e))
	}
	for h, he := range o.marks {
		if he <= e-2 {
			upd = upd.Remove(expression.Name("m" + h))
		}
	}
	if !oc.at.IsZero() {
		upd = upd.Set(expression.Name("ls"), expression.Value(oc.at.UnixNano()))
	}
	if oc.state != "" {
		upd = upd.Set(expression.Name("ss"), expression.Value(oc.state)).Set(expression.Name("ssv"), expression.Value(inc.Version))
	}
	cond := expression.Name("st").Equal(expression.Value(occActive)).And(expression.Name("sv").Equal(expression.Value(inc.Version)))
	if ring, ok := notInRing(hashes); ok {
		cond = cond.And(ring)
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build occurrence update: %w", err)
	}
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(pk, occSK(inc.ID)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	if isConditionFailed(err) {
		return fmt.Errorf("occurrence of %s: %w", inc.ID, incident.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("write occurrence of %s: %w", inc.ID, err)
	}
	s.writes.Add(1)
	return nil
}

// fence moves an incident's occurrence item to the version about to be written in the scope item
// (creating the item if need be), before that write: an occurrence decided on the older version is
// then refused and decided again on the new one, so that what the new version changed (a recovery
// under way, an acknowledgement, a resolution) is never missed by an occurrence counted on the
// side. Resolving closes the item for good. With marks, the fence is refused (ErrConflict) if the
// ring holds one of them: the event was just counted there, as the next read finds. It returns the
// item as it is after the fence, which is final once closed.
func (s *Store) fence(ctx context.Context, pk, id string, version int64, closing bool, hashes []string) (*occItem, error) {
	st := occActive
	if closing {
		st = occClosed
	}
	upd := expression.Set(expression.Name("sv"), expression.Value(version)).Set(expression.Name("st"), expression.Value(st))
	if closing {
		// Kept a while for the marks in its ring; the resolved record holds the counts.
		upd = upd.Set(expression.Name("ttl"), expression.Value(s.now().Add(MarkTTL+24*time.Hour).Unix()))
	}
	b := expression.NewBuilder().WithUpdate(upd)
	if ring, ok := notInRing(hashes); ok {
		b = b.WithCondition(ring)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build fence: %w", err)
	}
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &s.table, Key: key(pk, occSK(id)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew})
	if isConditionFailed(err) {
		return nil, fmt.Errorf("occurrences of %s: %w", id, incident.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("fence occurrences of %s: %w", id, err)
	}
	s.writes.Add(1)
	return decodeOcc(out.Attributes), nil
}

// readOccurrences reads the occurrence items of a scope, by incident id.
func (s *Store) readOccurrences(ctx context.Context, pk string) (map[string]*occItem, error) {
	kc := expression.Key("pk").Equal(expression.Value(pk)).And(expression.Key("sk").BeginsWith("O#"))
	occ := map[string]*occItem{}
	err := s.queryTable(ctx, kc, func(item map[string]types.AttributeValue) {
		occ[strings.TrimPrefix(attrS(item, "sk"), "O#")] = decodeOcc(item)
	})
	return occ, err
}

// queryTable reads every item of the table (not the index) matching kc, consistently.
func (s *Store) queryTable(ctx context.Context, kc expression.KeyConditionBuilder, each func(map[string]types.AttributeValue)) error {
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return fmt.Errorf("build key condition: %w", err)
	}
	in := &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: expr.KeyCondition(), ConsistentRead: aws.Bool(true),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()}
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return fmt.Errorf("query table: %w", err)
		}
		for _, item := range out.Items {
			each(item)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
