package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"go.yaml.in/yaml/v3"

	"github.com/docker-layers/docker-layers/analyze"
)

// defaultRulesFile is read from the working directory when --rules is not given.
const defaultRulesFile = ".docker-layers.yml"

// ruleSet is one scope of budget settings: the configuration file's top-level rules,
// one of its per-image overrides, or the flags. Keys are flag names.
type ruleSet struct {
	limits map[string]analyze.Limit
	// text is each setting as written ("300MB"), for --print-config and messages.
	text map[string]string
	// where is where each setting was made: "FILE:LINE" or "--flag".
	where map[string]string
}

func newRuleSet() ruleSet {
	return ruleSet{limits: map[string]analyze.Limit{}, text: map[string]string{}, where: map[string]string{}}
}

// settingKeys are the keys of a rules mapping besides the rule names.
const (
	keyBaseline   = "baseline"
	keyCompressed = "compressed"
)

// set parses one setting into s. It returns the problem, without the place.
func (s ruleSet) set(key, value, where string) error {
	switch key {
	case keyBaseline:
		if strings.TrimSpace(value) == "" {
			return errors.New("baseline: needs an image reference")
		}
	case keyCompressed:
		if _, err := strconv.ParseBool(value); err != nil {
			return fmt.Errorf("compressed: %q is not true or false", value)
		}
	default:
		kind, ok := analyze.RuleKindNamed(key)
		if !ok {
			return fmt.Errorf("unknown key %q (rules are %s)", key, strings.Join(ruleNames(), ", "))
		}
		l, err := parseLimit(kind, value)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		s.limits[key] = l
	}
	s.text[key], s.where[key] = value, where
	return nil
}

// merge returns base with over's settings on top.
func (base ruleSet) merge(over ruleSet) ruleSet {
	out := newRuleSet()
	for _, s := range []ruleSet{base, over} {
		for k, v := range s.text {
			out.text[k], out.where[k] = v, s.where[k]
		}
		for k, v := range s.limits {
			out.limits[k] = v
		}
	}
	return out
}

func (s ruleSet) baseline() string { return s.text[keyBaseline] }

func (s ruleSet) compressed() bool {
	b, _ := strconv.ParseBool(s.text[keyCompressed])
	return b
}

// rules makes the rules s sets, in the order of analyze.RuleKinds.
func (s ruleSet) rules() []analyze.Rule {
	var out []analyze.Rule
	for _, k := range analyze.RuleKinds {
		if l, ok := s.limits[k.Name]; ok {
			out = append(out, k.New(l))
		}
	}
	return out
}

// contradictions lists the soft limits above their hard ones in s, each placed where
// the later of the two settings was made, when that was in scope (so a contradiction
// is reported once, where it arose).
func (s ruleSet) contradictions(scope func(where string) bool) []string {
	var out []string
	for _, c := range analyze.Contradictions(s.limits) {
		at, other := s.where[c.Rule], s.where[c.Other]
		if !scope(at) {
			at, other = other, at
		}
		if !scope(at) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s %s is above %s %s (%s): the warning could never come before the failure",
			at, c.Rule, s.text[c.Rule], c.Other, s.text[c.Other], other))
	}
	return out
}

func ruleNames() []string {
	names := []string{keyBaseline, keyCompressed}
	for _, k := range analyze.RuleKinds {
		names = append(names, k.Name)
	}
	return names
}

// parseLimit reads a limit as the kind takes it: sizes in docker's spellings
// ("200MB" = 200×10^6 bytes, "1.5GiB" = 1.5×2^30, "1048576" bytes), percentages
// ("10%"), whole numbers and ratios ("0.95", or "95%").
func parseLimit(kind analyze.RuleKind, s string) (analyze.Limit, error) {
	s = strings.TrimSpace(s)
	var l analyze.Limit
	var err error
	switch pct, isPct := strings.CutSuffix(s, "%"); {
	case isPct:
		l.Percent = true
		l.Value, err = strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil {
			return l, fmt.Errorf("%q is not a percentage", s)
		}
		if kind.Limit == analyze.LimitRatio {
			l = analyze.Limit{Value: l.Value / 100}
		}
	case kind.Limit == analyze.LimitCount:
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return l, fmt.Errorf("%q is not a whole number", s)
		}
		l.Value = float64(n)
	case kind.Limit == analyze.LimitRatio:
		l.Value, err = strconv.ParseFloat(s, 64)
		if err != nil {
			return l, fmt.Errorf("%q is not a ratio such as 0.95", s)
		}
	case kind.Limit == analyze.LimitPercent:
		return l, fmt.Errorf("%q is not a percentage such as 80%%", s)
	default:
		n, err := parseSize(s)
		if err != nil {
			return l, err
		}
		l.Value = float64(n)
	}
	if err := kind.Validate(l); err != nil {
		return l, fmt.Errorf("%s: %w", s, err)
	}
	return l, nil
}

var sizeSpelling = regexp.MustCompile(`^\d+(\.\d+)?\s?([kKmMgGtTpP]([iI]?[bB])?|[bB])?$`)

// parseSize reads a size as docker writes it: a decimal unit (kB, MB, GB: powers of
// 1000), a binary one (KiB, MiB, GiB: powers of 1024) or plain bytes.
func parseSize(s string) (int64, error) {
	if !sizeSpelling.MatchString(s) {
		return 0, fmt.Errorf("%q is not a size such as 200MB, 1.5GiB or 1048576 (bytes)", s)
	}
	parse := units.FromHumanSize
	if strings.Contains(strings.ToLower(strings.TrimLeft(s, "0123456789. ")), "i") {
		parse = units.RAMInBytes
	}
	n, err := parse(s)
	if err != nil || n < 0 || n > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size such as 200MB, 1.5GiB or 1048576 (bytes)", s)
	}
	return n, nil
}

// checkConfig is a budget configuration file.
type checkConfig struct {
	// file is the path as given, for messages.
	file   string
	rules  ruleSet
	images []imageRules
}

// imageRules are the settings for the images whose reference matches a pattern.
type imageRules struct {
	match string
	where string
	rules ruleSet
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseCheckConfig reads a configuration file. It returns every problem it finds, each
// as "FILE:LINE: message", not just the first.
func parseCheckConfig(file string, data []byte) (checkConfig, []string) {
	cfg := checkConfig{file: file, rules: newRuleSet()}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return cfg, nil // an empty file sets nothing
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := "1"
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, msg = m[1], m[2]
		}
		return cfg, []string{fmt.Sprintf("%s:%s: %s", file, line, msg)}
	}
	p := configParser{file: file}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	p.mapping(root, "the file", func(key string, k, v *yaml.Node) {
		switch key {
		case "rules":
			p.rules(v, cfg.rules)
		case "images":
			cfg.images = p.images(v)
		default:
			p.errorf(k, "unknown key %q (the file has rules: and images:)", key)
		}
	})
	// Contradictions among the values that parsed, alongside the other problems.
	p.errs = append(p.errs, cfg.rules.contradictions(func(string) bool { return true })...)
	for _, im := range cfg.images {
		p.errs = append(p.errs, cfg.rules.merge(im.rules).contradictions(im.rules.setAt)...)
	}
	return cfg, p.errs
}

// setAt reports whether s has a setting made at where.
func (s ruleSet) setAt(where string) bool {
	for _, w := range s.where {
		if w == where {
			return true
		}
	}
	return false
}

// configParser walks the YAML tree, collecting problems.
type configParser struct {
	file string
	errs []string
}

func (p *configParser) at(n *yaml.Node) string { return fmt.Sprintf("%s:%d", p.file, n.Line) }

func (p *configParser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, p.at(n)+": "+fmt.Sprintf(format, args...))
}

// mapping calls fn for each key of a mapping node, reporting a duplicate key once.
func (p *configParser) mapping(n *yaml.Node, what string, fn func(key string, k, v *yaml.Node)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "rules:" with nothing under it
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping of keys to values", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf(k, "%q is set twice", k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
}

func (p *configParser) rules(n *yaml.Node, into ruleSet) {
	p.mapping(n, "rules", func(key string, k, v *yaml.Node) {
		if v.Kind != yaml.ScalarNode {
			p.errorf(v, "%s must be a single value", key)
			return
		}
		if err := into.set(key, v.Value, p.at(k)); err != nil {
			p.errorf(k, "%v", err)
		}
	})
}

func (p *configParser) images(n *yaml.Node) []imageRules {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "images must be a list of {match: PATTERN, rules: {...}}")
		return nil
	}
	var out []imageRules
	for _, item := range n.Content {
		im := imageRules{where: p.at(item), rules: newRuleSet()}
		hasMatch := false
		p.mapping(item, "an images entry", func(key string, k, v *yaml.Node) {
			switch key {
			case "match":
				hasMatch = true
				im.match = v.Value
				if _, err := path.Match(v.Value, ""); err != nil || v.Kind != yaml.ScalarNode || v.Value == "" {
					p.errorf(v, "match: %q is not a reference pattern such as \"registry.example.com/team/*\"", v.Value)
				}
			case "rules":
				p.rules(v, im.rules)
			default:
				p.errorf(k, "unknown key %q in an images entry (it has match: and rules:)", key)
			}
		})
		if item.Kind == yaml.MappingNode && !hasMatch {
			p.errorf(item, "an images entry needs match: PATTERN")
		}
		out = append(out, im)
	}
	return out
}

// forImage returns the settings for ref: the file's rules, the overrides whose
// pattern matches, in file order, and the flags on top.
func (c checkConfig) forImage(ref string, flags ruleSet) ruleSet {
	s := c.rules
	for _, im := range c.images {
		if matchRef(im.match, ref) {
			s = s.merge(im.rules)
		}
	}
	return s.merge(flags)
}

// matchRef matches a pattern ("registry.example.com/team/*", with path.Match's
// wildcards: * stops at a slash) against a reference as given and without its
// transport ("docker://", "docker-daemon:").
func matchRef(pattern, ref string) bool {
	for _, r := range []string{ref, strings.TrimPrefix(ref, "docker://"), strings.TrimPrefix(ref, "docker-daemon:")} {
		if ok, _ := path.Match(pattern, r); ok {
			return true
		}
	}
	return false
}

// printConfig writes the effective configuration as YAML: the file's rules with the
// flags on top, then the overrides (where a flag sets a key, the flag wins, so the
// key is left out).
func (c checkConfig) printConfig(flags ruleSet) ([]byte, error) {
	scalar := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	rulesNode := func(s ruleSet, skip ruleSet) *yaml.Node {
		m := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range ruleNames() {
			if v, ok := s.text[k]; ok {
				if _, flagged := skip.text[k]; flagged {
					continue
				}
				m.Content = append(m.Content, scalar(k), scalar(v))
			}
		}
		return m
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	root.Content = append(root.Content, scalar("rules"), rulesNode(c.rules.merge(flags), newRuleSet()))
	if len(c.images) > 0 {
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, im := range c.images {
			item := &yaml.Node{Kind: yaml.MappingNode}
			item.Content = append(item.Content, scalar("match"), scalar(im.match), scalar("rules"), rulesNode(im.rules, flags))
			seq.Content = append(seq.Content, item)
		}
		root.Content = append(root.Content, scalar("images"), seq)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
