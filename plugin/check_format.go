package plugin

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// The output formats of `check` beyond table, json and templates.
const (
	checkFormatJUnit    = "junit"
	checkFormatGitHub   = "github"
	checkFormatMarkdown = "markdown"
)

// statusWord is how tables print a verdict.
func statusWord(status string) string { return strings.ToUpper(status) }

// writeCheckTable prints one table per image (rule, limit, actual, verdict, the layer
// at fault), the problems of rules that could not be checked, and a summary line.
func writeCheckTable(w io.Writer, v checkView, o renderOpts) error {
	for i, im := range v.Images {
		if i > 0 {
			fmt.Fprintln(w)
		}
		head := fmt.Sprintf("Image: %s (%s sizes", termSafe(im.Image), im.Sizes)
		if im.Baseline != "" {
			head += "; baseline " + termSafe(im.Baseline)
		}
		fmt.Fprintln(w, head+")")
		if len(im.Rules) == 0 {
			fmt.Fprintln(w, "No rules: set them with flags (see --help) or in "+defaultRulesFile+".")
			continue
		}
		t := &table{header: []string{"RULE", "LIMIT", "ACTUAL", "STATUS", "LAYER"}, flex: 4, width: o.width}
		for _, r := range im.Rules {
			actual := "?"
			if r.Actual != nil {
				actual = formatAmount(unitOf(r), *r.Actual)
			}
			t.append(r.Rule, formatAmount(unitOf(r), r.Limit), actual, statusWord(r.Status), termSafe(layerCell(r.Layer, o.noTrunc)))
		}
		if err := t.render(w); err != nil {
			return err
		}
		for _, r := range im.Rules {
			if r.Status == "error" {
				fmt.Fprintln(w, "ERROR: "+termSafe(r.Message))
			}
		}
	}
	if len(v.Images) > 0 {
		fmt.Fprintln(w)
	}
	_, err := fmt.Fprintln(w, checkSummary(v))
	return err
}

// JUnit XML, as CI systems read it (Jenkins, GitLab, GitHub test reporters): one test
// suite per image, one test case per rule. A warning passes, with its message in
// system-out; a rule that could not be checked is an error.
type junitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

type junitTestSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitTestCase `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func writeCheckJUnit(w io.Writer, v checkView) error {
	doc := junitTestSuites{Name: "docker layers check"}
	for _, im := range v.Images {
		s := junitTestSuite{Name: im.Image, Properties: []junitProperty{{"id", im.ID}, {"sizes", im.Sizes}}}
		if im.Baseline != "" {
			s.Properties = append(s.Properties, junitProperty{"baseline", im.Baseline})
		}
		for _, r := range im.Rules {
			c := junitTestCase{Name: r.Rule, Classname: im.Image}
			text := r.Message
			switch r.Status {
			case "fail":
				c.Failure = &junitProblem{Message: r.Message, Type: r.Rule, Text: text}
				s.Failures++
			case "error":
				c.Error = &junitProblem{Message: r.Message, Type: r.Rule, Text: text}
				s.Errors++
			case "warn":
				c.SystemOut = "WARN: " + text
			default:
				c.SystemOut = text
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w)
	return err
}

// writeCheckGitHub prints a GitHub Actions workflow command for every rule that did
// not pass (::error for failures and rules that could not be checked, ::warning for
// soft limits), then the table for the log.
func writeCheckGitHub(w io.Writer, v checkView, o renderOpts) error {
	for _, im := range v.Images {
		for _, r := range im.Rules {
			level := ""
			switch r.Status {
			case "fail", "error":
				level = "error"
			case "warn":
				level = "warning"
			default:
				continue
			}
			title := fmt.Sprintf("docker layers check: %s %s", r.Rule, statusWord(r.Status))
			fmt.Fprintf(w, "::%s title=%s::%s\n", level, githubProperty(title), githubData(termSafe(r.Message)))
		}
	}
	return writeCheckTable(w, v, o)
}

// githubData escapes a workflow command's message as the Actions runner reads it.
func githubData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// githubProperty escapes a workflow command's property value (title=…).
func githubProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// writeCheckMarkdown prints a Markdown table for $GITHUB_STEP_SUMMARY or a merge
// request comment.
func writeCheckMarkdown(w io.Writer, v checkView, o renderOpts) error {
	fmt.Fprintf(w, "### docker layers check: %s\n\n", statusWord(v.Status))
	fmt.Fprintln(w, "| Image | Rule | Limit | Actual | Status | Layer |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | --- | --- |")
	for _, im := range v.Images {
		name := fmt.Sprintf("`%s` (%s)", strings.ReplaceAll(im.Image, "`", "'"), im.Sizes)
		for _, r := range im.Rules {
			actual := "?"
			if r.Actual != nil {
				actual = formatAmount(unitOf(r), *r.Actual)
			}
			status := statusWord(r.Status)
			if r.Status != "pass" {
				status = "**" + status + "**"
			}
			layer := layerCell(r.Layer, o.noTrunc)
			if layer != "" {
				layer = "`" + strings.ReplaceAll(layer, "`", "'") + "`"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", markdownCell(name), r.Rule,
				formatAmount(unitOf(r), r.Limit), actual, status, markdownCell(layer))
		}
	}
	fmt.Fprintln(w)
	for _, im := range v.Images {
		for _, r := range im.Rules {
			if r.Status != "pass" {
				fmt.Fprintf(w, "- **%s** %s: %s\n", statusWord(r.Status), r.Rule, markdownCell(r.Message))
			}
		}
	}
	_, err := fmt.Fprintf(w, "\n%s\n", checkSummary(v))
	return err
}

// markdownCell keeps a value inside its table cell and free of control characters.
func markdownCell(s string) string {
	return strings.ReplaceAll(termSafe(s), "|", `\|`)
}
