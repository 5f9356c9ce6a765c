package analyze

import (
	"reflect"
	"testing"
)

func TestShareSteps(t *testing.T) {
	base := lay(t, "base", 100)
	a := crafted(t, "a:1", "", base, lay(t, "a", 10))
	a2 := a
	a2.Ref = "a:latest" // a second tag: the same image
	b := crafted(t, "b:1", "", base, lay(t, "b", 20))
	squashed := crafted(t, "sq:1", "", base, lay(t, "c", 30))
	squashed.Config = squashed.Config.DeepCopy()
	squashed.Config.History = squashed.Config.History[:1] // history no longer matches
	dangling := crafted(t, "sha256:dangling", "", base, lay(t, "b", 20))
	images, unlisted := []Image{squashed, a, a2, b}, []Image{dangling}

	for _, tc := range []struct {
		name string
		read []int // images (then unlisted) whose history is read
		want []int
	}{
		// The base layer's step comes from the first image that has it: sq's history
		// is unread, so it is asked for; b's layer (b and the dangling image) from b.
		{"none read", nil, []int{0, 3}},
		// sq's history does not match: the next image with the base layer is a.
		{"squashed read", []int{0}, []int{1, 3}},
		{"a read", []int{0, 1}, []int{3}},
		// The second tag of a is the same image: its history is not asked for again.
		{"all needed read", []int{0, 1, 3}, nil},
		{"every history read", []int{0, 1, 2, 3, 4}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			read := func(i int) bool {
				for _, r := range tc.read {
					if r == i {
						return true
					}
				}
				return false
			}
			if got := ShareSteps(images, unlisted, read); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ShareSteps = %v, want %v", got, tc.want)
			}
		})
	}
}
