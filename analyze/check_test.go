package analyze

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// clayer is one crafted layer: the instruction that made it, its content (layers
// with the same content on the same layers below are the same layer) and its sizes.
type clayer struct {
	instr          string
	content        string
	size, compSize int64
}

// checkImage makes an image whose history ties each layer to its instruction.
func checkImage(ref string, layers ...clayer) Image {
	img := Image{Ref: ref, ID: "sha256:" + fmt.Sprintf("%064x", len(ref)), Config: &v1.ConfigFile{}}
	for _, l := range layers {
		content := l.content
		if content == "" {
			content = l.instr
		}
		hex := fmt.Sprintf("%x", sha256.Sum256([]byte(content)))
		img.Layers = append(img.Layers, Layer{DiffID: v1.Hash{Algorithm: "sha256", Hex: hex}, Size: l.size, CompressedSize: l.compSize})
		createdBy := "/bin/sh -c #(nop) " + l.instr
		if run, ok := strings.CutPrefix(l.instr, "RUN "); ok {
			createdBy = "/bin/sh -c " + run
		}
		img.Config.History = append(img.Config.History, v1.History{CreatedBy: createdBy})
	}
	return img
}

func checkInput(img Image) CheckInput { return CheckInput{Image: Inspect(img)} }

func withBaseline(old, img Image) CheckInput {
	c := Compare(old, img)
	return CheckInput{Image: Inspect(img), Baseline: &c}
}

// limitCases checks a rule just under, at and just over its limit: under and at
// pass, over gives over.
func limitCases(t *testing.T, rule Rule, over CheckStatus, under, at, above CheckInput) {
	t.Helper()
	for _, tc := range []struct {
		name string
		in   CheckInput
		want CheckStatus
	}{{"under", under, CheckPass}, {"at", at, CheckPass}, {"over", above, over}} {
		got := rule.Evaluate(tc.in)
		if got.Status != tc.want {
			t.Errorf("%s %s the limit: status %s (actual %v, limit %v, problem %q), want %s", rule.Name(), tc.name, got.Status, got.Actual, got.Limit, got.Problem, tc.want)
		}
	}
}

func sized(sizes ...int64) Image {
	var ls []clayer
	for i, s := range sizes {
		ls = append(ls, clayer{instr: fmt.Sprintf("RUN step %d", i), size: s, compSize: s / 2})
	}
	return checkImage("app:v2", ls...)
}

func TestMaxSize(t *testing.T) {
	under, at, over := checkInput(sized(600, 399)), checkInput(sized(600, 400)), checkInput(sized(600, 401))
	limitCases(t, MaxSize{Limit: 1000}, CheckFail, under, at, over)
	limitCases(t, MaxSize{Limit: 1000, Soft: true}, CheckWarn, under, at, over)
	if n := (MaxSize{Soft: true}).Name(); n != "warn-size" {
		t.Errorf("soft max-size is called %q", n)
	}
	res := MaxSize{Limit: 1000}.Evaluate(over)
	if res.Actual != 1001 || res.Limit != 1000 || res.Unit != UnitBytes || res.Compressed {
		t.Errorf("max-size result %+v", res)
	}
}

func TestMaxSizeCompressed(t *testing.T) {
	// Compressed sizes are half the uncompressed ones: 500 compressed for 1000.
	in := func(sizes ...int64) CheckInput {
		c := checkInput(sized(sizes...))
		c.Compressed = true
		return c
	}
	limitCases(t, MaxSize{Limit: 500}, CheckFail, in(600, 398), in(600, 400), in(600, 402))
	res := MaxSize{Limit: 500}.Evaluate(in(600, 402))
	if !res.Compressed || res.Actual != 501 {
		t.Errorf("compressed max-size result %+v", res)
	}

	// An engine stores no compressed sizes: the rule cannot pass.
	unknown := in(600, 400)
	unknown.Image.Layers[1].CompressedSize = Unknown
	unknown.Image.CompressedSize = Unknown
	for _, r := range []Rule{MaxSize{Limit: 1 << 40}, MaxLayerSize{Limit: 1 << 40}} {
		if res := r.Evaluate(unknown); res.Status != CheckError || res.Problem == "" {
			t.Errorf("%s with an unknown compressed size: %+v, want an error", r.Name(), res)
		}
	}
}

func TestMaxLayerSize(t *testing.T) {
	under, at, over := checkInput(sized(10, 99, 50)), checkInput(sized(10, 100, 50)), checkInput(sized(10, 101, 50))
	limitCases(t, MaxLayerSize{Limit: 100}, CheckFail, under, at, over)
	limitCases(t, MaxLayerSize{Limit: 100, Soft: true}, CheckWarn, under, at, over)

	res := MaxLayerSize{Limit: 40}.Evaluate(over)
	if res.Layer == nil || res.Layer.Index != 1 || res.Layer.Instruction != "RUN step 1" || res.Layer.Size != 101 || res.LayersOver != 2 || res.Actual != 101 {
		t.Errorf("max-layer-size names layer %+v, %d over, actual %v; want layer 1 (RUN step 1, 101 bytes), 2 over", res.Layer, res.LayersOver, res.Actual)
	}
}

func TestMaxLayers(t *testing.T) {
	limitCases(t, MaxLayers{Limit: 3}, CheckFail, checkInput(sized(1, 1)), checkInput(sized(1, 1, 1)), checkInput(sized(1, 1, 1, 1)))
	// A metadata-only step makes no layer.
	img := sized(1, 1, 1)
	img.Config.History = append(img.Config.History, v1.History{CreatedBy: "/bin/sh -c #(nop)  ENV A=b", EmptyLayer: true})
	if res := (MaxLayers{Limit: 3}).Evaluate(checkInput(img)); res.Status != CheckPass || res.Actual != 3 {
		t.Errorf("max-layers with an ENV step: %+v", res)
	}
}

func TestMaxGrowth(t *testing.T) {
	old := checkImage("app:main", clayer{instr: "FROM", size: 600}, clayer{instr: "COPY . .", content: "v1", size: 400})
	grown := func(n int64) CheckInput {
		return withBaseline(old, checkImage("app:v2", clayer{instr: "FROM", size: 600}, clayer{instr: "COPY . .", content: "v2", size: 400 + n}))
	}
	limitCases(t, MaxGrowth{Limit: Limit{Value: 100}}, CheckFail, grown(99), grown(100), grown(101))
	limitCases(t, MaxGrowth{Limit: Limit{Value: 100}, Soft: true}, CheckWarn, grown(99), grown(100), grown(101))
	// 10% of 1000 bytes is 100 bytes, exactly.
	limitCases(t, MaxGrowth{Limit: Limit{Value: 10, Percent: true}}, CheckFail, grown(99), grown(100), grown(101))
	limitCases(t, MaxGrowth{Limit: Limit{Value: 2.5, Percent: true}}, CheckFail, grown(24), grown(25), grown(26))

	res := MaxGrowth{Limit: Limit{Value: 10, Percent: true}}.Evaluate(grown(150))
	if res.Unit != UnitPercent || res.Actual != 15 || res.Bytes != 150 || res.Of != 1000 {
		t.Errorf("max-growth 10%% result %+v", res)
	}
	// Shrinking is negative growth, within any limit.
	if res := (MaxGrowth{Limit: Limit{Value: 0}}).Evaluate(grown(-300)); res.Status != CheckPass || res.Actual != -300 {
		t.Errorf("a smaller image: %+v", res)
	}
	if res := (MaxGrowth{Limit: Limit{Value: 100}}).Evaluate(checkInput(sized(1))); res.Status != CheckError {
		t.Errorf("max-growth without a baseline: %+v, want an error", res)
	}
}

func TestMaxLayerGrowth(t *testing.T) {
	old := checkImage("app:main",
		clayer{instr: "FROM", size: 600},
		clayer{instr: "COPY package.json .", size: 10},
		clayer{instr: "RUN npm install", content: "deps v1", size: 1000})
	grown := func(n int64) CheckInput {
		return withBaseline(old, checkImage("app:v2",
			clayer{instr: "FROM", size: 600},
			clayer{instr: "COPY package.json .", size: 10},
			clayer{instr: "RUN npm install", content: "deps v2", size: 1000 + n}))
	}
	limitCases(t, MaxLayerGrowth{Limit: 100}, CheckFail, grown(99), grown(100), grown(101))
	res := MaxLayerGrowth{Limit: 100}.Evaluate(grown(101))
	if res.Layer == nil || res.Layer.Index != 2 || res.Layer.Instruction != "RUN npm install" || res.Layer.BaselineSize != 1000 || res.Actual != 101 || res.LayersOver != 1 {
		t.Errorf("max-layer-growth result %+v layer %+v", res, res.Layer)
	}

	// Another instruction at the same position is a new layer: it grew by all of it.
	other := withBaseline(old, checkImage("app:v2",
		clayer{instr: "FROM", size: 600},
		clayer{instr: "COPY . .", size: 50},
		clayer{instr: "RUN npm install", content: "deps v2", size: 1000}))
	res = MaxLayerGrowth{Limit: 40}.Evaluate(other)
	if res.Status != CheckFail || res.Layer.Index != 1 || res.Actual != 50 || res.Layer.BaselineSize != 0 {
		t.Errorf("a layer made by another instruction: %+v layer %+v", res, res.Layer)
	}
	// The legacy builder's COPY names its content's hash: an edit is the same step.
	legacy := func(hash string, size int64) Image {
		img := checkImage("app", clayer{instr: "FROM", size: 600}, clayer{instr: "COPY . .", content: hash, size: size})
		img.Config.History[1].CreatedBy = "/bin/sh -c #(nop) COPY dir:" + strings.Repeat(hash, 64) + " in . "
		return img
	}
	res = MaxLayerGrowth{Limit: 100}.Evaluate(withBaseline(legacy("a", 1000), legacy("b", 1050)))
	if res.Status != CheckPass || res.Actual != 50 || res.Layer.BaselineSize != 1000 {
		t.Errorf("a legacy COPY with new content: %+v layer %+v, want 50 bytes of growth", res, res.Layer)
	}
	// A layer the baseline lacks grew by all of it.
	added := withBaseline(old, checkImage("app:v2",
		clayer{instr: "FROM", size: 600},
		clayer{instr: "COPY package.json .", size: 10},
		clayer{instr: "RUN npm install", content: "deps v1", size: 1000},
		clayer{instr: "COPY . .", size: 70}))
	if res := (MaxLayerGrowth{Limit: 70}).Evaluate(added); res.Status != CheckPass || res.Actual != 70 || res.Layer.Index != 3 {
		t.Errorf("an added layer at the limit: %+v", res)
	}
}

func TestMinReused(t *testing.T) {
	old := checkImage("app:main",
		clayer{instr: "FROM", size: 500},
		clayer{instr: "COPY . .", content: "old", size: 500})
	// NEW reuses the FROM layer, whose size sets the reused share of OLD's 1000 bytes.
	reusing := func(base int64) CheckInput {
		o := old
		o.Layers = append([]Layer(nil), old.Layers...)
		o.Layers[0].Size, o.Layers[1].Size = base, 1000-base
		return withBaseline(o, checkImage("app:v2",
			clayer{instr: "FROM", size: base},
			clayer{instr: "COPY . .", content: "new", size: 1000 - base}))
	}
	limitCases(t, MinReused{Percent: 50}, CheckFail, reusing(501), reusing(500), reusing(499))
	res := MinReused{Percent: 50}.Evaluate(reusing(250))
	if res.Actual != 25 || res.Bytes != 250 || res.Of != 1000 || res.Unit != UnitPercent {
		t.Errorf("min-reused result %+v", res)
	}
}

func TestMaxWastedAndEfficiency(t *testing.T) {
	wasted := func(n int64) CheckInput {
		in := checkInput(sized(1000))
		in.Waste = &WasteFigures{WastedSize: n, TotalSize: 1000}
		return in
	}
	limitCases(t, MaxWasted{Limit: Limit{Value: 50}}, CheckFail, wasted(49), wasted(50), wasted(51))
	limitCases(t, MaxWasted{Limit: Limit{Value: 5, Percent: true}}, CheckFail, wasted(49), wasted(50), wasted(51))
	limitCases(t, MinEfficiency{Ratio: 0.95}, CheckFail, wasted(49), wasted(50), wasted(51))
	if res := (MinEfficiency{Ratio: 0.95}).Evaluate(wasted(200)); res.Actual != 0.8 || res.Unit != UnitRatio {
		t.Errorf("min-efficiency result %+v", res)
	}
	for _, r := range []Rule{MaxWasted{Limit: Limit{Value: 1}}, MinEfficiency{Ratio: 0.5}} {
		if res := r.Evaluate(checkInput(sized(1))); res.Status != CheckError || res.Problem == "" {
			t.Errorf("%s without the wasted-space figure: %+v, want an error", r.Name(), res)
		}
		if !r.Needs().Waste {
			t.Errorf("%s does not ask for the wasted-space figure", r.Name())
		}
	}
}

func TestCheckImageVerdict(t *testing.T) {
	in := checkInput(sized(600, 400))
	for _, tc := range []struct {
		rules  []Rule
		status CheckStatus
		passed bool
	}{
		{nil, CheckPass, true},
		{[]Rule{MaxSize{Limit: 2000}, MaxLayers{Limit: 5}}, CheckPass, true},
		{[]Rule{MaxSize{Limit: 2000}, MaxSize{Limit: 900, Soft: true}}, CheckWarn, true},
		{[]Rule{MaxSize{Limit: 900, Soft: true}, MaxLayers{Limit: 1}}, CheckFail, false},
		{[]Rule{MaxLayers{Limit: 1}, MaxGrowth{Limit: Limit{Value: 1}}}, CheckError, false},
	} {
		c := CheckImage(in, tc.rules)
		if c.Status != tc.status || c.Passed != tc.passed || len(c.Results) != len(tc.rules) {
			t.Errorf("%v: status %s passed %v, want %s %v", tc.rules, c.Status, c.Passed, tc.status, tc.passed)
		}
		for i, r := range c.Results {
			if r.Rule != tc.rules[i].Name() {
				t.Errorf("result %d is %q, want %q", i, r.Rule, tc.rules[i].Name())
			}
		}
	}
}

func TestRuleKinds(t *testing.T) {
	for _, k := range RuleKinds {
		if got := k.New(Limit{Value: 1, Percent: k.Limit == LimitPercent}).Name(); got != k.Name {
			t.Errorf("kind %s makes a rule named %s", k.Name, got)
		}
		if k.WarnsBefore != "" {
			if _, ok := RuleKindNamed(k.WarnsBefore); !ok {
				t.Errorf("%s warns before an unknown rule %s", k.Name, k.WarnsBefore)
			}
		}
	}
	kind := func(name string) RuleKind {
		k, ok := RuleKindNamed(name)
		if !ok {
			t.Fatalf("no rule kind %s", name)
		}
		return k
	}
	for _, tc := range []struct {
		rule  string
		limit Limit
		ok    bool
	}{
		{"max-size", Limit{Value: 200e6}, true},
		{"max-size", Limit{Value: -1}, false},
		{"max-size", Limit{Value: 10, Percent: true}, false},
		{"max-growth", Limit{Value: 10, Percent: true}, true},
		{"max-growth", Limit{Value: 150, Percent: true}, true},
		{"min-reused", Limit{Value: 80, Percent: true}, true},
		{"min-reused", Limit{Value: 101, Percent: true}, false},
		{"min-reused", Limit{Value: 80}, false},
		{"max-layers", Limit{Value: 1.5}, false},
		{"min-efficiency", Limit{Value: 0.95}, true},
		{"min-efficiency", Limit{Value: 1.5}, false},
	} {
		err := kind(tc.rule).Validate(tc.limit)
		if (err == nil) != tc.ok {
			t.Errorf("%s %+v: error %v, want ok=%v", tc.rule, tc.limit, err, tc.ok)
		}
	}
}

func TestContradictions(t *testing.T) {
	got := Contradictions(map[string]Limit{
		"max-size": {Value: 300}, "warn-size": {Value: 400},
		"max-layer-size": {Value: 100}, "warn-layer-size": {Value: 100},
		"max-growth": {Value: 10, Percent: true}, "warn-growth": {Value: 20e6},
	})
	if len(got) != 1 || got[0].Rule != "warn-size" || got[0].Other != "max-size" {
		t.Errorf("contradictions %v, want warn-size above max-size only", got)
	}
}
