package plugin

import (
	"bytes"
	"testing"
	"time"
)

func TestWriteJSONStreamIsWriteJSON(t *testing.T) {
	type row struct {
		Path   string   `json:"path"`
		Layers []int    `json:"layers"`
		Paths  []string `json:"paths,omitempty"`
		Note   string   `json:"note,omitempty"`
	}
	type view struct {
		Image  string    `json:"image"`
		Ratio  float64   `json:"ratio"`
		Rows   []row     `json:"rows"`
		Empty  []row     `json:"empty"`
		Nil    []row     `json:"nil"`
		Gone   []row     `json:"gone,omitempty"`
		When   time.Time `json:"when"`
		Counts []int     `json:"counts"`
		Names  []string  `json:"names"`
		Big    int64     `json:"big"`
		Nested struct {
			A <-chan int `json:"-"`
			B *int       `json:"b"`
		} `json:"nested"`
	}
	v := view{Counts: []int{}, Names: []string{"a\"b", "é", "\\", "x"}, Big: -1 << 62, When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Image: "a<b>&\x01", Ratio: 0.25, Rows: []row{{Path: "/x", Layers: []int{1, 2}, Paths: []string{"p"}}, {Path: "/y"}}, Empty: []row{}}
	var want, got bytes.Buffer
	if err := writeJSON(&want, v); err != nil {
		t.Fatal(err)
	}
	if err := writeJSONStream(&got, v); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("got\n%s\nwant\n%s", got.String(), want.String())
	}
}
