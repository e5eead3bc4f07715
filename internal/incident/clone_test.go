package incident

import (
	"reflect"
	"testing"
	"time"
)

// Every field an occurrence does not change must make OnlyOccurred say no when it differs:
// a store records an "only occurred" change as those few fields, so a missed field would be lost.
func TestOnlyOccurredSeesEveryField(t *testing.T) {
	occurrence := map[string]bool{"Occurrences": true, "UpdatedAt": true, "ServiceState": true, "StateError": true, "Version": true}
	base := &Incident{ID: "inc-1", State: Open, Notices: map[string]*Notice{"slack": {Ref: "c/1"}}, Suppressed: map[string]int{"duplicate": 1},
		Timeline: []Entry{{Kind: "opened"}}, Alarms: []string{"a"}, LogLines: []string{"l"}}
	typ := reflect.TypeOf(*base)
	for i := range typ.NumField() {
		f := typ.Field(i)
		next := base.Clone()
		v := reflect.ValueOf(next).Elem().Field(i)
		change(t, v)
		if got := OnlyOccurred(base, next); got != occurrence[f.Name] {
			t.Errorf("%s changed: OnlyOccurred = %v", f.Name, got)
		}
	}
	// A change inside a notice or the timeline counts too.
	next := base.Clone()
	next.Notices["slack"].Pending = "opened"
	if OnlyOccurred(base, next) {
		t.Error("a notice changed: OnlyOccurred = true")
	}
	next = base.Clone()
	next.Timeline = []Entry{{Kind: "opened", Message: "x"}}
	if OnlyOccurred(base, next) {
		t.Error("a timeline entry changed: OnlyOccurred = true")
	}
	next = base.Clone()
	next.Occurrences.add(time.Now(), "t", "e", "d")
	next.UpdatedAt = time.Now()
	if !OnlyOccurred(base, next) {
		t.Error("an occurrence: OnlyOccurred = false")
	}
}

// A clone shares no array it may append to: appending to the clone leaves the original as it was.
func TestCloneAppendsApart(t *testing.T) {
	base := &Incident{Timeline: make([]Entry, 1, 10), Occurrences: Occurrences{Tasks: make([]string, 1, 10)}}
	c := base.Clone()
	c.addEntry(Entry{Kind: "x"})
	c.Occurrences.add(time.Now(), "t2", "", "")
	if len(base.Timeline) != 1 || len(base.Occurrences.Tasks) != 1 || base.Timeline[:2][1].Kind != "" || base.Occurrences.Tasks[:2][1] != "" {
		t.Fatalf("the original changed: %+v", base)
	}
}

// change sets v to a value different from the one it has.
func change(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Float64:
		v.SetFloat(v.Float() + 1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.Zero(v.Type().Key()).Convert(v.Type().Key()), reflect.New(v.Type().Elem()).Elem())
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(12345, 0)))
			return
		}
		// The first field that can change stands for the struct.
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				change(t, v.Field(i))
				return
			}
		}
		t.Fatalf("cannot change %s", v.Type())
	default:
		t.Fatalf("cannot change a %s", v.Kind())
	}
}
