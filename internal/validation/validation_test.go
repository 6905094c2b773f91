package validation

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/go-playground/validator/v10"
)

type contact struct {
	Number string `yaml:"number" validate:"required,even"`
}

type doc struct {
	Contacts map[string]contact `yaml:"contacts" validate:"dive"`
	Routes   []string           `yaml:"routes" validate:"min=1"`
	Mode     string             `yaml:"mode" validate:"oneof=a b"`
	Count    int                `yaml:"count" validate:"gt=0"`
	Skipped  string             `yaml:"-" validate:"required"`
}

func TestProblems(t *testing.T) {
	v := New("yaml", map[string]validator.Func{
		"even": func(fl validator.FieldLevel) bool { return len(fl.Field().String())%2 == 0 },
	})
	err := v.Struct(doc{
		Contacts: map[string]contact{"alice": {Number: "123"}, "bob": {}},
		Mode:     "c",
	})
	got, err := Problems(err, map[string]func(validator.FieldError) string{
		"even": func(fe validator.FieldError) string { return fmt.Sprintf("%q has odd length", fe.Value()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		`contacts.alice.number: "123" has odd length`: true,
		`contacts.bob.number: is required`:            true,
		`routes: must not be empty`:                   true,
		`mode: "c" is not one of a, b`:                true,
		`count: must be greater than 0`:               true,
		`Skipped: is required`:                        true,
	}
	seen := map[string]bool{}
	for _, p := range got {
		seen[p.String()] = true
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("problems = %v, want %v", seen, want)
	}
}

func TestProblemsPassesOtherErrors(t *testing.T) {
	other := errors.New("boom")
	if _, err := Problems(other, nil); err != other {
		t.Errorf("err = %v, want the error itself", err)
	}
	if p, err := Problems(nil, nil); p != nil || err != nil {
		t.Errorf("nil error: %v, %v", p, err)
	}
}

func TestPath(t *testing.T) {
	for in, want := range map[string]string{
		"Config.contacts[alice].number": "contacts.alice.number",
		"Config.routes[2].to[0]":        "routes[2].to[0]",
		"Config.routes":                 "routes",
		"Config.groups[a.b][0]":         "groups.a.b[0]",
		"Config.broken[x":               "broken[x",
	} {
		if got := Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
}
