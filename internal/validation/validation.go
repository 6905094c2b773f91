// Package validation checks structs with validator tags and says what is
// wrong in the words of the file or payload the user wrote: a path such as
// routes[0].to or alerts[1].status and a short reason.
package validation

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// New returns a validator that names fields after their tagKey tag ("yaml"
// or "json"), the names the user sees, with the custom checks given.
func New(tagKey string, checks map[string]validator.Func) *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, opts, _ := strings.Cut(f.Tag.Get(tagKey), ",")
		switch {
		case name == "-":
			return ""
		case name == "" && strings.Contains(opts, "inline"):
			// Its fields are written beside the struct's own: Path drops
			// it, where the validator would name the Go field.
			return inlineName
		}
		return name
	})
	for tag, check := range checks {
		// RegisterValidation fails only for an empty tag or a nil func.
		if err := v.RegisterValidation(tag, check); err != nil {
			panic(fmt.Sprintf("validation: register %q: %v", tag, err))
		}
	}
	return v
}

// inlineName names an inlined struct in a namespace, for Path to drop.
const inlineName = "\x00inline"

// Problem is one field that fails a check.
type Problem struct {
	Path    string // routes[0].to, contacts.alice.number
	Message string // "is required"
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// Problems turns what Validate.Struct returned into one Problem per field.
// messages describe the custom checks by tag; the rest have stock words.
// An error that is not about fields is returned as it is.
func Problems(err error, messages map[string]func(validator.FieldError) string) ([]Problem, error) {
	if err == nil {
		return nil, nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return nil, err
	}
	out := make([]Problem, len(verrs))
	for i, fe := range verrs {
		msg := describe(fe)
		if custom, ok := messages[fe.Tag()]; ok {
			msg = custom(fe)
		}
		out[i] = Problem{Path: Path(fe.Namespace()), Message: msg}
	}
	return out, nil
}

// Path turns validator's "Config.contacts[alice].number" into the path a
// user reads in the file: "contacts.alice.number". Map keys become
// dotted names; list indexes stay in brackets.
func Path(namespace string) string {
	namespace = strings.ReplaceAll(namespace, "."+inlineName, "")
	_, path, _ := strings.Cut(namespace, ".")
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c != '[' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(path[i:], ']')
		if end < 0 {
			b.WriteString(path[i:])
			break
		}
		key := path[i+1 : i+end]
		if strings.Trim(key, "0123456789") == "" {
			b.WriteString("[" + key + "]")
		} else {
			b.WriteString("." + key)
		}
		i += end
	}
	return b.String()
}

func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "min":
		if fe.Param() == "1" {
			return "must not be empty"
		}
		return fmt.Sprintf("needs at least %s entries", fe.Param())
	case "gt":
		return fmt.Sprintf("must be greater than %s", fe.Param())
	case "gte":
		return fmt.Sprintf("must be at least %s", fe.Param())
	case "lte":
		return fmt.Sprintf("must be at most %s", fe.Param())
	case "oneof":
		return fmt.Sprintf("%s is not one of %s", Quote(fe.Value()), strings.ReplaceAll(fe.Param(), " ", ", "))
	case "required_with":
		return "is required with " + strings.ToLower(fe.Param())
	case "http_url":
		return fmt.Sprintf("%s is not an http(s) URL", Quote(fe.Value()))
	default:
		return fmt.Sprintf("fails the %q check", fe.Tag())
	}
}

// maxQuoted bounds what Quote shows of a value.
const maxQuoted = 64

// Quote quotes a value a client or a file sent, at most its first 64
// bytes: a reason must stay one short line, whatever was sent (a webhook's
// version may be megabytes long, and the status page shows the reason).
func Quote(v any) string {
	s := fmt.Sprint(v)
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
