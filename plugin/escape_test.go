package plugin

import "testing"

func TestTermSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain /app/a.js":      "plain /app/a.js",
		"a\x1b[2Jb":            `a\x1b[2Jb`,
		"line\nadded 1TB":      `line\nadded 1TB`,
		"cr\rover":             `cr\rover`,
		"c1\u0085x":            `c1\x85x`,
		"bidi\u202eevil":       `bidi\u202eevil`,
		"emoji 👩\u200d💻 stays": "emoji 👩\u200d💻 stays",
		"bell\x07":             `bell\x07`,
	} {
		if got := termSafe(in); got != want {
			t.Errorf("termSafe(%q) = %q, want %q", in, got, want)
		}
	}
	type row struct {
		Text   string
		Images []string
		N      int
	}
	got := termSafeRow(row{Text: "a\nb", Images: []string{"x\x1b"}, N: 3}).(row)
	if got.Text != `a\nb` || got.Images[0] != `x\x1b` || got.N != 3 {
		t.Errorf("termSafeRow: %+v", got)
	}
}
