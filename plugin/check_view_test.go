package plugin

import (
	"strings"
	"testing"

	"github.com/docker-layers/docker-layers/analyze"
)

// Every rule's verdict is worded in one sentence that carries its figures.
func TestRuleMessages(t *testing.T) {
	c := analyze.Check{Image: "app:v2", Baseline: "app:main"}
	layer := &analyze.CheckLayer{Index: 4, Instruction: "RUN npm install", Size: 150e6, BaselineSize: 100e6}
	for _, tc := range []struct {
		r    analyze.RuleResult
		want string
	}{
		{analyze.RuleResult{Rule: "max-size", Unit: analyze.UnitBytes, Limit: 300e6, Actual: 312e6, Status: analyze.CheckFail},
			"app:v2 is 312MB (uncompressed), over the 300MB limit"},
		{analyze.RuleResult{Rule: "warn-size", Unit: analyze.UnitBytes, Limit: 300e6, Actual: 312e6, Status: analyze.CheckWarn, Compressed: true},
			"app:v2 is 312MB (compressed), over the 300MB warning limit"},
		{analyze.RuleResult{Rule: "max-layer-size", Unit: analyze.UnitBytes, Limit: 100e6, Actual: 150e6, Status: analyze.CheckFail, Layer: layer, LayersOver: 2},
			"the largest layer, layer 4 (RUN npm install), is 150MB (uncompressed), over the 100MB limit; 2 layers are over it"},
		{analyze.RuleResult{Rule: "max-layers", Unit: analyze.UnitCount, Limit: 10, Actual: 12, Status: analyze.CheckFail},
			"app:v2 has 12 layers, more than the limit of 10"},
		{analyze.RuleResult{Rule: "max-growth", Unit: analyze.UnitPercent, Limit: 10, Actual: 12.5, Bytes: 25e6, Of: 200e6, Status: analyze.CheckFail},
			"app:v2 grew by 25MB (12.5%) over app:main's 200MB (uncompressed), more than the 10% limit"},
		{analyze.RuleResult{Rule: "warn-growth", Unit: analyze.UnitBytes, Limit: 10e6, Actual: -3e6, Status: analyze.CheckPass},
			"app:v2 shrank by 3MB (uncompressed) from app:main, within the 10MB limit"},
		{analyze.RuleResult{Rule: "max-layer-growth", Unit: analyze.UnitBytes, Limit: 20e6, Actual: 50e6, Status: analyze.CheckFail, Layer: layer, LayersOver: 1},
			"layer 4 (RUN npm install) grew by 50MB to 150MB (uncompressed), from 100MB in app:main, more than the 20MB limit"},
		{analyze.RuleResult{Rule: "min-reused", Unit: analyze.UnitPercent, Limit: 80, Actual: 45, Bytes: 90e6, Of: 200e6, Status: analyze.CheckFail},
			"app:v2 reused 90MB (45%) of app:main's 200MB (uncompressed), less than the 80% asked"},
		{analyze.RuleResult{Rule: "max-wasted", Unit: analyze.UnitPercent, Limit: 5, Actual: 6, Bytes: 12e6, Of: 200e6, Status: analyze.CheckFail},
			"6% of app:v2 (12MB, uncompressed) is wasted, more than the 5% limit"},
		{analyze.RuleResult{Rule: "max-wasted", Unit: analyze.UnitBytes, Limit: 20e6, Actual: 12e6, Status: analyze.CheckPass},
			"12MB of app:v2 is wasted (uncompressed), within the 20MB limit"},
		{analyze.RuleResult{Rule: "min-efficiency", Unit: analyze.UnitRatio, Limit: 0.95, Actual: 0.94, Bytes: 12e6, Of: 200e6, Status: analyze.CheckFail},
			"app:v2's efficiency is 0.94 (12MB wasted of 200MB, uncompressed), below 0.95"},
		{analyze.RuleResult{Rule: "max-wasted", Status: analyze.CheckError, Problem: "needs the wasted-space figure"},
			"max-wasted could not be checked: needs the wasted-space figure"},
	} {
		if got := ruleMessage(c, tc.r); got != tc.want {
			t.Errorf("%s %s:\n got %q\nwant %q", tc.r.Rule, tc.r.Status, got, tc.want)
		}
	}
	for _, k := range analyze.RuleKinds {
		if _, ok := ruleMessages[k.Name]; !ok {
			t.Errorf("rule %s has no message", k.Name)
		}
	}
}

func TestGitHubEscapes(t *testing.T) {
	if got := githubData("50% of a\nb\r"); got != "50%25 of a%0Ab%0D" {
		t.Errorf("githubData: %q", got)
	}
	if got := githubProperty("check: a, b"); got != "check%3A a%2C b" {
		t.Errorf("githubProperty: %q", got)
	}
	if got := markdownCell("a|b\x1b[31m"); strings.Contains(got, "\x1b") || !strings.Contains(got, `a\|b`) {
		t.Errorf("markdownCell: %q", got)
	}
}
