package plugin

import (
	"fmt"
	"reflect"
	"strings"
	"unicode"
)

// termSafe makes text from an image (history, labels, file paths, references) safe to
// print on a terminal: control characters (escape sequences, newlines, carriage
// returns, C1 controls) are written as Go escapes (\x1b, \n, \u0085), as `ls` quotes
// such names, so a crafted name cannot move the cursor or fake a row.
func termSafe(s string) string {
	if strings.IndexFunc(s, needsEscape) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == unicode.ReplacementChar:
			b.WriteRune(r)
		case needsEscape(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (unicode.Is(unicode.Cf, r) && r != '\u200d')
}

// termSafeRow returns a copy of a template row (a struct) whose text fields are
// termSafe: a --format template prints plain text, so it escapes what tables escape;
// --format json is the raw projection.
func termSafeRow(row any) any {
	v := reflect.ValueOf(row)
	if v.Kind() != reflect.Struct {
		return row
	}
	out := reflect.New(v.Type()).Elem()
	out.Set(v)
	for i := range out.NumField() {
		f := out.Field(i)
		if !f.CanSet() {
			continue
		}
		switch {
		case f.Kind() == reflect.String:
			f.SetString(termSafe(f.String()))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
			safe := reflect.MakeSlice(f.Type(), f.Len(), f.Len())
			for j := range f.Len() {
				safe.Index(j).SetString(termSafe(f.Index(j).String()))
			}
			f.Set(safe)
		}
	}
	return out.Interface()
}
