package analyze

// ShareSteps says whose histories Share needs for the steps of the shared layers, for
// sources that read histories on demand (the engine's). Share names a shared layer's
// step from the first image, in order (images, then unlisted), whose history matches
// its layers; read(i) tells whether image i's history (indexing images, then unlisted)
// has been read. For each shared layer, ShareSteps returns the first such image whose
// history is unread, unless an image before it already names the step: once those are
// read and ShareSteps returns none, Share gives the steps it would give with every
// history read.
func ShareSteps(images, unlisted []Image, read func(i int) bool) []int {
	b := newSharing(images, unlisted)
	all := append(append([]Image{}, images...), unlisted...)
	hist := make(map[int]History)
	historyOf := func(i int) History {
		h, ok := hist[i]
		if !ok {
			h = all[i].History()
			hist[i] = h
		}
		return h
	}
	var need []int
	wanted := map[int]bool{}
	for _, e := range b.order {
		if len(e.owners) < 2 {
			continue
		}
		for _, u := range e.owners {
			i := b.uniq[u]
			if !read(i) {
				if !wanted[i] {
					wanted[i] = true
					need = append(need, i)
				}
				break
			}
			if h := historyOf(i); h.Matched && h.LayerStep(e.index) != (Step{}) {
				break
			}
		}
	}
	return need
}
