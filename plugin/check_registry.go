package plugin

import (
	"errors"
	"fmt"

	"github.com/docker/cli/cli"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

// checkRegistry is `check --registry`: the budget rules, on compressed sizes, applied
// to every image a walk of the registry finds, from manifests and configs alone. Only
// the images that fail or warn are kept for the output (one row per rule at fault), so
// a walk of tens of thousands of tags needs no memory for the images that pass; a
// summary line on stderr counts them all.
func checkRegistry(cmd *cobra.Command, e *env, r *run, cfg checkConfig, flagRules ruleSet, opts checkOptions) (checkView, error) {
	wopts, err := opts.reg.walkOptions(r.srcOpts)
	if err != nil {
		return checkView{}, imageError(cmd, err)
	}
	stderr := e.dockerCli.Err()
	wopts.Skipped = reportSkipped(cmd, stderr)
	var kept []analyze.Check
	var checked, failed, warned int
	wopts.Image = func(img source.WalkedImage) error {
		rules := cfg.forImage(img.Ref, flagRules).rules()
		if len(rules) == 0 {
			return nil
		}
		needs := analyze.NeedsOf(rules)
		if needs.Baseline || needs.Waste {
			return fmt.Errorf("%s: growth, reuse and wasted-space rules need a baseline or layer contents, which a registry walk does not read: %w", termSafe(img.Ref), errNotRegistryRule)
		}
		c := analyze.CheckImage(analyze.CheckInput{Image: analyze.Inspect(img.Image), Compressed: true}, rules)
		checked++
		switch c.Status {
		case analyze.CheckPass:
			return nil
		case analyze.CheckWarn:
			warned++
		default:
			failed++
		}
		kept = append(kept, c)
		return nil
	}
	stats, werr := source.WalkRegistry(r.ctx, wopts)
	if werr != nil && !errorsIs(werr, source.ErrWalkIncomplete) {
		if errorsIs(werr, errNotRegistryRule) {
			return checkView{}, usageError(cmd, werr.Error())
		}
		return checkView{}, cli.StatusError{StatusCode: ExitUsage, Status: fmt.Sprintf("%s: %v", cmd.CommandPath(), werr)}
	}
	fmt.Fprintf(stderr, "%s: %s checked (compressed sizes), %d failed, %d warned, %d passed; %d skipped\n",
		termSafe(opts.reg.registry), plural(checked, "image"), failed, warned, checked-failed-warned, stats.Skipped)
	v := newCheckView(kept)
	if werr != nil && v.Passed {
		// What was skipped was not checked: never a silent pass.
		return v, cli.StatusError{StatusCode: ExitUsage, Status: fmt.Sprintf("%s: %v", cmd.CommandPath(), werr)}
	}
	return v, nil
}

var errNotRegistryRule = errors.New("not a rule for --registry")
