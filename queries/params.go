package queries

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/tokentrail/tokentrail/internal/timespec"
)

// ParamType is the declared type of a report parameter.
type ParamType string

// Parameter types. Values arrive as strings (flags) and are parsed by type.
const (
	// Int is a whole number >= 0, bound as Int64.
	Int ParamType = "Int"
	// String is any text, bound as a String literal.
	String ParamType = "String"
	// DateTime is an instant, bound as DateTime (seconds, UTC). Accepted:
	// now; a time before now such as 30d, 12h, 2w, 90m; a date
	// 2006-01-02 (midnight UTC); 2006-01-02 15:04[:05]; RFC 3339.
	DateTime ParamType = "DateTime"
	// Duration is a length of time, bound as Int64 seconds. Accepted:
	// 45s, 90m, 12h, 30d, 2w, or a Go duration such as 1h30m.
	Duration ParamType = "Duration"
)

// Param is one declared report parameter.
type Param struct {
	Name        string
	Type        ParamType
	Default     string
	Description string
}

// Sentinel errors wrapped by *ParamError.
var (
	ErrUnknownParam = errors.New("unknown parameter")
	ErrBadValue     = errors.New("bad value")
)

// ParamError says which parameter of which report got which bad value. It
// unwraps to ErrUnknownParam or ErrBadValue.
type ParamError struct {
	Report string
	Param  string
	Value  string
	Err    error  // ErrUnknownParam or ErrBadValue
	Reason string // what is wrong, for ErrBadValue
}

func (e *ParamError) Error() string {
	if errors.Is(e.Err, ErrUnknownParam) {
		return fmt.Sprintf("report %s: unknown parameter %q", e.Report, e.Param)
	}
	return fmt.Sprintf("report %s: parameter %s: %q: %s", e.Report, e.Param, e.Value, e.Reason)
}

func (e *ParamError) Unwrap() error { return e.Err }

var zeroTime = time.Unix(0, 0).UTC()

var (
	// ClickHouse DateTime holds 1970-01-01 .. 2106-02-07.
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(2106, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parse turns s into the value bound for p: int64, string or time.Time.
// Relative DateTime values count back from now.
func (p Param) parse(s string, now time.Time) (any, error) {
	switch p.Type {
	case Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 {
			return nil, errors.New("want a whole number >= 0")
		}
		return n, nil
	case String:
		return s, nil
	case Duration:
		d, err := parseDuration(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		return int64(d / time.Second), nil
	case DateTime:
		t, err := parseTime(strings.TrimSpace(s), now)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown type %s", p.Type)
}

func parseDuration(s string) (time.Duration, error) {
	d, err := timespec.Duration(s)
	if err != nil {
		return 0, errors.New("want a duration such as 45s, 90m, 12h, 30d, 2w or 1h30m")
	}
	return d, nil
}

func parseTime(s string, now time.Time) (time.Time, error) {
	t, err := timespec.Time(s, now)
	if err != nil {
		return t, errors.New("want " + timespec.Forms)
	}
	t = t.Truncate(time.Second)
	if t.Before(minTime) || !t.Before(maxTime) {
		return t, errors.New("out of the range ClickHouse DateTime holds (1970 to 2105)")
	}
	return t, nil
}

// Values are a report's parameters resolved to typed values, ready to bind.
type Values struct {
	report string
	params []Param
	vals   map[string]any
}

// Resolve parses the given parameter values (name to text, as on the
// command line) and fills in declared defaults. now is the clock: the
// default of a now parameter and the origin of relative DateTime values,
// which count back from the resolved now parameter when the report has one,
// except that a relative since counts back from until (--until 2025-07-01
// --since 30d is June). A name the report does not declare, or a value its
// type rejects, is a *ParamError; so is a since that is not before until.
func (r *Report) Resolve(given map[string]string, now time.Time) (Values, error) {
	v := Values{report: r.Name, params: r.Params, vals: map[string]any{}}
	names := make([]string, 0, len(given))
	for name := range given {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := r.Param(name); !ok {
			return v, &ParamError{Report: r.Name, Param: name, Value: given[name], Err: ErrUnknownParam}
		}
	}
	now = now.UTC().Truncate(time.Second)
	get := func(p Param) error {
		text, ok := given[p.Name]
		if !ok {
			text = p.Default
		}
		val, err := p.parse(text, now)
		if err != nil {
			return &ParamError{Report: r.Name, Param: p.Name, Value: text, Err: ErrBadValue, Reason: err.Error()}
		}
		v.vals[p.Name] = val
		return nil
	}
	if p, ok := r.Param("now"); ok && p.Type == DateTime {
		if err := get(p); err != nil {
			return v, err
		}
		now = v.vals["now"].(time.Time)
	}
	// A relative since counts back from the end of the period.
	if p, ok := r.Param("until"); ok && p.Type == DateTime {
		if err := get(p); err != nil {
			return v, err
		}
		if p, ok := r.Param("since"); ok && p.Type == DateTime {
			until := v.vals["until"].(time.Time)
			text, given := given["since"]
			if !given {
				text = p.Default
			}
			val, err := p.parse(text, until)
			if err != nil {
				return v, &ParamError{Report: r.Name, Param: p.Name, Value: text, Err: ErrBadValue, Reason: err.Error()}
			}
			v.vals["since"] = val
		}
	}
	for _, p := range r.Params {
		if _, done := v.vals[p.Name]; done {
			continue
		}
		if err := get(p); err != nil {
			return v, err
		}
	}
	since, ok1 := v.vals["since"].(time.Time)
	until, ok2 := v.vals["until"].(time.Time)
	if ok1 && ok2 && !since.Before(until) {
		return v, &ParamError{Report: r.Name, Param: "since", Value: since.Format(time.DateTime), Err: ErrBadValue,
			Reason: "must be before until (" + until.Format(time.DateTime) + ")"}
	}
	return v, nil
}

// Get returns the resolved value of a parameter: int64, string or
// time.Time (Duration parameters are int64 seconds).
func (v Values) Get(name string) (any, bool) {
	val, ok := v.vals[name]
	return val, ok
}

// Time returns a DateTime parameter's value.
func (v Values) Time(name string) (time.Time, bool) {
	t, ok := v.vals[name].(time.Time)
	return t, ok
}

// Params returns the declared parameters, in declaration order.
func (v Values) Params() []Param { return v.params }

// Text returns a parameter's value as a reader would write it.
func (v Values) Text(name string) string {
	switch val := v.vals[name].(type) {
	case time.Time:
		return val.Format(time.DateTime)
	case int64:
		for _, p := range v.params {
			if p.Name == name && p.Type == Duration {
				return durationText(val)
			}
		}
		return strconv.FormatInt(val, 10)
	case string:
		return val
	}
	return ""
}

// Args returns the values as clickhouse-go named arguments (@name in SQL).
// The driver writes each as an escaped literal of its Go type; no value is
// ever spliced into SQL text by this package.
func (v Values) Args() []any {
	args := make([]any, 0, len(v.params))
	for _, p := range v.params {
		args = append(args, clickhouse.Named(p.Name, v.vals[p.Name]))
	}
	return args
}

// durationText writes seconds in the largest unit that divides them: 1h, 90m, 2d.
func durationText(sec int64) string {
	for _, u := range []struct {
		n    int64
		unit string
	}{{7 * 86400, "w"}, {86400, "d"}, {3600, "h"}, {60, "m"}} {
		if sec > 0 && sec%u.n == 0 {
			return strconv.FormatInt(sec/u.n, 10) + u.unit
		}
	}
	return strconv.FormatInt(sec, 10) + "s"
}
