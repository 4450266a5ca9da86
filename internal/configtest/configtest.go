package configtest

import "reflect"

// WithDefaults returns cfg with each zero field set to the field of
// defaults (a component's DefaultConfiguration()). Components give zero its
// literal meaning, so this is for tests only: a test that is about a zero
// value sets it after the call.
func WithDefaults[T any](cfg, defaults T) T {
	v, d := reflect.ValueOf(&cfg).Elem(), reflect.ValueOf(defaults)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			v.Field(i).Set(d.Field(i))
		}
	}
	return cfg
}
