package analyze

import (
	"reflect"
	"testing"
	"time"
)

// BuildKit passes ENV only to the RUN steps above it: a changed ENV leaves a COPY
// above it reused and breaks the cache at the next RUN.
func TestCompareBuildKitEnvBreaksTheNextRun(t *testing.T) {
	base := diffBase(t)
	build := func(start time.Time, env string, mods map[string]string) []dstep {
		return at(start,
			dstep{createdBy: "ENV MODE=" + env, comment: BuildKitComment},
			dstep{createdBy: "COPY app.conf /etc/ # buildkit", files: map[string]string{"etc/app.conf": "same"}, comment: BuildKitComment},
			dstep{createdBy: "RUN /bin/sh -c npm install # buildkit", files: mods, comment: BuildKitComment},
		)
	}
	oldImg, _ := diffImage(t, "v1", concat(base, build(diffV1Time, "a", mods1))...)
	newImg, _ := diffImage(t, "v2", concat(base, build(diffV2Time, "b", mods2))...)
	c := Compare(oldImg, newImg)
	b := c.FirstBreak
	if b == nil || b.Reason != ReasonInstructionChanged || b.Step != 4 || b.Layer != 3 || b.NewInstruction != "ENV MODE=b" || len(b.Unkeyed) != 0 {
		t.Fatalf("first break %+v, want instruction-changed at ENV, costing layer 3", b)
	}
	if got, want := statuses(c), []Status{R, R, R, RB}; !reflect.DeepEqual(got, want) {
		t.Errorf("layer statuses %v, want %v", got, want)
	}
	if got, want := stepStatuses(c), []Status{R, R, R, R, RB, R, RB}; !reflect.DeepEqual(got, want) {
		t.Errorf("step statuses %v, want %v", got, want)
	}

	// The same Dockerfile built by the legacy builder: the ENV breaks the COPY too.
	legacy := func(start time.Time, env string, mods map[string]string) []dstep {
		return at(start,
			dstep{createdBy: "/bin/sh -c #(nop)  ENV MODE=" + env},
			dstep{createdBy: "/bin/sh -c #(nop) COPY file:" + hash64('c') + " in /etc/ ", files: map[string]string{"etc/app.conf": "same"}},
			dstep{createdBy: "/bin/sh -c npm install", files: mods},
		)
	}
	oldImg, _ = diffImage(t, "v1", concat(base, legacy(diffV1Time, "a", mods1))...)
	newImg, _ = diffImage(t, "v2", concat(base, legacy(diffV2Time, "b", mods2))...)
	c = Compare(oldImg, newImg)
	if b := c.FirstBreak; b == nil || b.Reason != ReasonInstructionChanged || b.Step != 4 || b.Layer != 2 {
		t.Fatalf("legacy first break %+v, want instruction-changed at ENV, costing layer 2", b)
	}
	if got, want := statuses(c), []Status{R, R, RB, RB}; !reflect.DeepEqual(got, want) {
		t.Errorf("legacy layer statuses %v, want %v", got, want)
	}
	if !c.Layers[2].SameContent {
		t.Error("the legacy COPY re-ran and made the same layer: sameContent")
	}
}

// Two Dockerfiles of different shape (the lazy order, then the professional one with
// a LABEL added at the top): the legacy builder keys every later step on the LABEL,
// BuildKit none; and the ENV and CMD that end both still face each other.
func TestCompareShapeChange(t *testing.T) {
	base := diffBase(t)
	pkg := map[string]string{"app/package.json": appV1["app/package.json"]}
	for _, bk := range []bool{false, true} {
		var comment string
		text := func(legacy, buildkit string) string {
			if bk {
				return buildkit
			}
			return legacy
		}
		if bk {
			comment = BuildKitComment
		}
		lazy := at(diffV1Time,
			dstep{createdBy: text("/bin/sh -c #(nop) WORKDIR /app", "WORKDIR /app"), files: map[string]string{}, comment: comment},
			dstep{createdBy: text("/bin/sh -c #(nop) COPY dir:"+hash64('a')+" in . ", "COPY . . # buildkit"), files: appV1, comment: comment},
			dstep{createdBy: text("/bin/sh -c npm install", "RUN /bin/sh -c npm install # buildkit"), files: mods1, comment: comment},
			dstep{createdBy: text("/bin/sh -c #(nop)  ENV NODE_ENV=production", "ENV NODE_ENV=production"), comment: comment},
			dstep{createdBy: text(`/bin/sh -c #(nop)  CMD ["node" "index.js"]`, `CMD ["node" "index.js"]`), comment: comment},
		)
		pro := at(diffV2Time,
			dstep{createdBy: text("/bin/sh -c #(nop)  LABEL team=web", "LABEL team=web"), comment: comment},
			lazy[0],
			dstep{createdBy: text("/bin/sh -c #(nop) COPY file:"+hash64('p')+" in ./ ", "COPY package*.json ./ # buildkit"), files: pkg, comment: comment},
			dstep{createdBy: lazy[2].createdBy, files: mods2, comment: comment},
			lazy[1], lazy[3], lazy[4],
		)
		oldImg, _ := diffImage(t, "lazy", concat(base, lazy)...)
		newImg, _ := diffImage(t, "pro", concat(base, pro)...)
		c := Compare(oldImg, newImg)
		b := c.FirstBreak
		if b == nil {
			t.Fatalf("buildkit=%v: no break", bk)
		}
		if bk {
			// The WORKDIR layers are the same: BuildKit reused it past the LABEL.
			if b.Reason != ReasonInstructionChanged || b.Layer != 3 || b.NewInstruction != "COPY package*.json ./" || !reflect.DeepEqual(b.Unkeyed, []int{4}) {
				t.Errorf("buildkit: first break %+v, want instruction-changed at layer 3, the LABEL unkeyed", b)
			}
			if got, want := statuses(c), []Status{R, R, R, RB, RB, A}; !reflect.DeepEqual(got, want) {
				t.Errorf("buildkit: layer statuses %v, want %v", got, want)
			}
		} else {
			if b.Reason != ReasonInstructionChanged || b.Step != 4 || b.Layer != 2 || b.NewInstruction != "LABEL team=web" || b.OldInstruction != "" {
				t.Errorf("legacy: first break %+v, want the added LABEL, costing layer 2", b)
			}
			if got, want := statuses(c), []Status{R, R, RB, RB, RB, A}; !reflect.DeepEqual(got, want) {
				t.Errorf("legacy: layer statuses %v, want %v", got, want)
			}
		}
		// Both images end with ENV and CMD above their top layers: they pair.
		top := c.Steps[len(c.Steps)-2:]
		for _, r := range top {
			if r.Old == nil || r.New == nil || r.TextChanged {
				t.Errorf("buildkit=%v: top step %q is not paired: old %v new %v", bk, r.Instruction(), r.Old, r.New)
			}
		}
		if r := c.Steps[len(c.Steps)-3]; r.Layer != 5 || r.Status != A {
			t.Errorf("buildkit=%v: the added COPY . . should sit below the ENV: %+v", bk, r)
		}
	}
}
