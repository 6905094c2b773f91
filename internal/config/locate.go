package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// locate says where in the document b lies the value whose own decoder
// (a duration's, a time interval's) refused it, as "line N: path", by
// decoding the document's values one by one into the types their fields
// have and descending into the one that fails. Such errors name neither
// the field nor the line. ok is false when no value fails on its own.
func locate(b []byte, t reflect.Type) (where string, ok bool) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil || len(doc.Content) == 0 {
		return "", false
	}
	path, line, ok := failing(doc.Content[0], t, "")
	if !ok || path == "" {
		return "", false
	}
	return fmt.Sprintf("line %d: %s", line, path), true
}

// failing returns the path and line of the deepest value under n, which
// is decoded into a t, that fails to decode on its own; ok is false when
// n decodes.
func failing(n *yaml.Node, t reflect.Type, path string) (string, int, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Decode(reflect.New(t).Interface()) == nil {
		return "", 0, false
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if f, ok := yamlField(t, key); ok {
				if p, line, ok := failing(n.Content[i+1], f.Type, join(path, key)); ok {
					return p, line, true
				}
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p, line, ok := failing(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); ok {
				return p, line, true
			}
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i, item := range n.Content {
			if p, line, ok := failing(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, line, true
			}
		}
	}
	return path, n.Line, true
}

// yamlField is the field of struct t that the yaml key names, looking
// into inlined structs too.
func yamlField(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case strings.Contains(opts, "inline"):
			inner := f.Type
			for inner.Kind() == reflect.Pointer {
				inner = inner.Elem()
			}
			if inner.Kind() == reflect.Struct {
				if g, ok := yamlField(inner, key); ok {
					return g, true
				}
			}
		case name == key || name == "" && strings.ToLower(f.Name) == key:
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
