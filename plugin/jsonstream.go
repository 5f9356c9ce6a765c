package plugin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// writeJSONStream writes v as writeJSON does, byte for byte, but a struct field by field
// and a slice element by element, so a view with a million rows never exists as one
// encoded buffer.
func writeJSONStream(w io.Writer, v any) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	s := jsonStream{w: bw}
	s.value(reflect.ValueOf(v), "")
	if s.err == nil {
		_, s.err = bw.WriteString("\n")
	}
	if s.err == nil {
		s.err = bw.Flush()
	}
	return s.err
}

type jsonStream struct {
	w     *bufio.Writer
	raw   bytes.Buffer
	enc   *json.Encoder // on raw, reused: a million rows make a million leaves
	buf   bytes.Buffer
	num   []byte
	types map[reflect.Type][]jsonField
	err   error
}

const jsonIndent = "    "

func (s *jsonStream) write(str string) {
	if s.err == nil {
		_, s.err = s.w.WriteString(str)
	}
}

func (s *jsonStream) writeBytes(b []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

func (s *jsonStream) value(v reflect.Value, prefix string) {
	if s.err != nil {
		return
	}
	switch {
	case v.Type().Implements(marshalerType) || reflect.PointerTo(v.Type()).Implements(marshalerType):
		s.leaf(v.Interface(), prefix)
	case v.Kind() == reflect.Struct && plainStruct(v.Type()):
		s.object(v, prefix)
	case v.Kind() == reflect.Slice && !v.IsNil() && (v.Type().Elem().Kind() == reflect.Struct || v.Type().Elem().Kind() == reflect.Int):
		if v.Len() == 0 {
			s.write("[]")
			return
		}
		s.write("[\n")
		for i := 0; i < v.Len(); i++ {
			s.write(prefix + jsonIndent)
			s.value(v.Index(i), prefix+jsonIndent)
			if i < v.Len()-1 {
				s.write(",")
			}
			s.write("\n")
		}
		s.write(prefix + "]")
	case v.Kind() == reflect.String && plainJSONString(v.String()):
		s.write(`"`)
		s.write(v.String())
		s.write(`"`)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64 || v.Kind() == reflect.Int32:
		s.num = strconv.AppendInt(s.num[:0], v.Int(), 10)
		s.writeBytes(s.num)
	default:
		s.leaf(v.Interface(), prefix)
	}
}

// plainJSONString is true when encoding/json (HTML escaping off) writes s unchanged
// between quotes: printable ASCII without quote or backslash.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (s *jsonStream) object(v reflect.Value, prefix string) {
	type field struct {
		key string // `"name": `
		v   reflect.Value
	}
	var fields []field
	for _, fi := range s.fieldsOf(v.Type()) {
		f := v.Field(fi.index)
		if fi.omitEmpty && isEmptyJSON(f) {
			continue
		}
		fields = append(fields, field{fi.key, f})
	}
	if len(fields) == 0 {
		s.write("{}")
		return
	}
	s.write("{\n")
	for i, f := range fields {
		s.write(prefix + jsonIndent + f.key)
		s.value(f.v, prefix+jsonIndent)
		if i < len(fields)-1 {
			s.write(",")
		}
		s.write("\n")
	}
	s.write(prefix + "}")
}

// jsonField is how a struct field is written, worked out once per type.
type jsonField struct {
	index     int
	key       string
	omitEmpty bool
}

func (s *jsonStream) fieldsOf(t reflect.Type) []jsonField {
	if fs, ok := s.types[t]; ok {
		return fs
	}
	var fs []jsonField
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || !t.Field(i).IsExported() {
			continue
		}
		if name == "" {
			name = t.Field(i).Name
		}
		key, _ := json.Marshal(name)
		fs = append(fs, jsonField{index: i, key: string(key) + ": ", omitEmpty: strings.Contains(opts, "omitempty")})
	}
	if s.types == nil {
		s.types = map[reflect.Type][]jsonField{}
	}
	s.types[t] = fs
	return fs
}

// leaf encodes a value with no rows in it as writeJSON would, at prefix.
func (s *jsonStream) leaf(v any, prefix string) {
	if s.enc == nil {
		s.enc = json.NewEncoder(&s.raw)
		s.enc.SetEscapeHTML(false)
	}
	s.raw.Reset()
	if err := s.enc.Encode(v); err != nil {
		s.err = err
		return
	}
	raw := bytes.TrimSuffix(s.raw.Bytes(), []byte("\n"))
	if len(raw) > 0 && raw[0] != '[' && raw[0] != '{' {
		s.writeBytes(raw)
		return
	}
	s.buf.Reset()
	if err := json.Indent(&s.buf, raw, prefix, jsonIndent); err != nil {
		s.err = err
		return
	}
	if s.err == nil {
		_, s.err = s.w.Write(s.buf.Bytes())
	}
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// plainStruct is a struct this writer may take apart field by field: no embedded
// fields (which JSON flattens) and no ",string" options.
func plainStruct(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous || strings.Contains(f.Tag.Get("json"), ",string") {
			return false
		}
	}
	return true
}

// isEmptyJSON is encoding/json's test for omitempty.
func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Struct:
		return false
	}
	return v.IsZero()
}
