package plugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type checkOptions struct {
	format      string
	noTrunc     bool
	platform    string
	rulesFile   string
	printConfig bool
	// limits are the rule flags by rule name, as typed.
	limits     map[string]*string
	baseline   string
	compressed bool
}

const checkFormatHelp = `Format output: "table" (default), "json", "junit", "github" (annotations and the table), "markdown", or a Go template`

func newCheckCommand(dockerCli command.Cli) *cobra.Command {
	opts := checkOptions{limits: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "check [OPTIONS] IMAGE [IMAGE...]",
		Short: "Check images against size budgets, for CI",
		Long: `Check each image against budget rules: its size, its largest layer, its number of
layers, its growth over a baseline image (the image of the main branch), the share of
the baseline it reuses. Soft limits (--warn-*) are reported without failing.

Rules come from flags and from ` + defaultRulesFile + ` in the working directory (or
--rules FILE), whose keys are the flag names without dashes; flags win. Sizes are
written as docker writes them: 200MB is 200×10^6 bytes, 1.5GiB is 1.5×2^30, a plain
number is bytes. --compressed applies size rules to compressed sizes (what a registry
stores and a pull moves), read from a registry without downloading any layer.

IMAGE is one of:
  NAME[:TAG|@DIGEST], IMAGE-ID     an image in the Docker engine (also docker-daemon:REF)
  docker://NAME[:TAG|@DIGEST]      an image in a registry
  docker-archive:PATH[:NAME:TAG]   a docker save tar
  oci:DIR[:TAG]                    an OCI image layout

Exit status: 0 when every rule passed (warnings pass), 1 when a rule failed, 2 when
the check could not run: a bad flag, configuration or reference, an unreachable engine
or registry, or a rule whose figures could not be read.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.printConfig {
				return nil
			}
			return minArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, dockerCli, args, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "table", checkFormatHelp)
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output: full instructions")
	// Not --config: standalone, that is docker's global flag for its config directory.
	flags.StringVar(&opts.rulesFile, "rules", "", "Read the rules from `FILE` (default: "+defaultRulesFile+" in the working directory, if there)")
	flags.BoolVar(&opts.printConfig, "print-config", false, "Print the effective rules, the file's with the flags on top, and exit")
	flags.StringVar(&opts.baseline, keyBaseline, "", "Compare with the baseline `IMAGE` (e.g. the main branch's image in the registry) for growth and reuse rules")
	flags.BoolVar(&opts.compressed, keyCompressed, false, "Apply size rules to compressed sizes; from a registry, no layer is downloaded")
	for _, k := range analyze.RuleKinds {
		opts.limits[k.Name] = flags.String(k.Name, "", k.Usage)
	}
	addPlatformFlag(flags, &opts.platform)
	return cmd
}

func runCheck(cmd *cobra.Command, dockerCli command.Cli, refs []string, opts checkOptions) error {
	cfg, flagRules, err := checkSettings(cmd, opts)
	if err != nil {
		return err
	}
	out := dockerCli.Out()
	if opts.printConfig {
		b, err := cfg.printConfig(flagRules)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	// junit, github and markdown are check's own; the rest are every command's.
	format, formatFlag := strings.TrimSpace(opts.format), opts.format
	switch format {
	case checkFormatJUnit, checkFormatGitHub, checkFormatMarkdown:
		formatFlag = "table"
	}
	tmpl, srcOpts, ctx, stop, err := prepareRun(cmd, dockerCli, formatFlag, opts.platform)
	if err != nil {
		return err
	}
	defer stop()
	return checkAndRender(ctx, cmd, dockerCli, refs, cfg, flagRules, srcOpts, format, tmpl, opts)
}

func checkAndRender(ctx context.Context, cmd *cobra.Command, dockerCli command.Cli, refs []string, cfg checkConfig, flagRules ruleSet,
	srcOpts source.Options, format string, tmpl outputFormat, opts checkOptions) error {
	settings := make([]ruleSet, len(refs))
	for i, ref := range refs {
		settings[i] = cfg.forImage(ref, flagRules)
		if len(settings[i].rules()) == 0 {
			return usageError(cmd, fmt.Sprintf("no budget rules for %s: give flags such as --max-size 300MB, or write them in %s (see --help)", ref, defaultRulesFile))
		}
	}
	checks, notes, err := checkImages(ctx, refs, settings, srcOpts)
	for _, n := range notes {
		fmt.Fprintln(dockerCli.Err(), n)
	}
	if err != nil {
		if errorsIs(err, context.Canceled) {
			return err
		}
		// The check could not run: never a pass, and not a finding either.
		return cli.StatusError{StatusCode: ExitUsage, Status: fmt.Sprintf("%s: %v", cmd.CommandPath(), err)}
	}
	v := newCheckView(checks)
	out := dockerCli.Out()
	switch {
	case format == checkFormatJUnit:
		err = writeCheckJUnit(out, v)
	case format == checkFormatGitHub:
		err = writeCheckGitHub(out, v, opts.noTrunc)
	case format == checkFormatMarkdown:
		err = writeCheckMarkdown(out, v, opts.noTrunc)
	case tmpl.json:
		err = writeJSON(out, v)
	case tmpl.tmpl != nil:
		err = tmpl.writeTemplate(out, checkRows(v, opts.noTrunc))
	default:
		err = writeCheckTable(out, v, opts.noTrunc)
	}
	if err != nil {
		return err
	}
	return checkExit(v)
}

// checkExit is the exit status of a check: 2 when a rule could not be evaluated, 1
// when one failed, 0 otherwise (warnings pass). The table has said why already.
func checkExit(v checkView) error {
	switch analyze.CheckStatus(v.Status) {
	case analyze.CheckError:
		return cli.StatusError{StatusCode: ExitUsage}
	case analyze.CheckFail:
		return cli.StatusError{StatusCode: ExitFinding}
	}
	return nil
}

// checkSettings reads the rules file and the flags, and reports every problem of
// both at once, one per line ("FILE:LINE: message", "--flag: message"), exit 2.
func checkSettings(cmd *cobra.Command, opts checkOptions) (checkConfig, ruleSet, error) {
	var errs []string
	cfg := checkConfig{rules: newRuleSet()}
	file := opts.rulesFile
	data, err := os.ReadFile(orDefault(file, defaultRulesFile))
	switch {
	case err == nil:
		var cfgErrs []string
		cfg, cfgErrs = parseCheckConfig(orDefault(file, defaultRulesFile), data)
		errs = append(errs, cfgErrs...)
	case file == "" && errors.Is(err, fs.ErrNotExist):
		// No rules file: the flags are the rules.
	default:
		errs = append(errs, fmt.Sprintf("%s: %v", orDefault(file, defaultRulesFile), err))
	}

	flags := newRuleSet()
	set := func(name, value string) {
		if err := flags.set(name, value, "--"+name); err != nil {
			errs = append(errs, "--"+err.Error())
		}
	}
	for _, k := range analyze.RuleKinds {
		if cmd.Flags().Changed(k.Name) {
			set(k.Name, *opts.limits[k.Name])
		}
	}
	if cmd.Flags().Changed(keyBaseline) {
		set(keyBaseline, opts.baseline)
	}
	if cmd.Flags().Changed(keyCompressed) {
		set(keyCompressed, strconv.FormatBool(opts.compressed))
	}
	// Contradictions the flags make, with the file's top-level rules or an override.
	scopes := []ruleSet{cfg.rules}
	for _, im := range cfg.images {
		scopes = append(scopes, cfg.rules.merge(im.rules))
	}
	for _, s := range scopes {
		for _, e := range s.merge(flags).contradictions(flags.setAt) {
			if !slices.Contains(errs, e) {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return cfg, flags, cli.StatusError{StatusCode: ExitUsage, Status: strings.Join(errs, "\n")}
	}
	return cfg, flags, nil
}

// checkImages opens each image (and its baseline), reads what its rules need and
// nothing more, and evaluates the rules. Uncompressed sizes come from the source's
// metadata (the engine's history, an archive's or layout's layers) and are measured
// only where unknown; a registry stores compressed blobs only, so measuring them
// downloads them, which notes says. Compressed sizes come from manifests.
func checkImages(ctx context.Context, refs []string, settings []ruleSet, opts source.Options) ([]analyze.Check, []string, error) {
	l := &checkLoader{opts: opts, open: map[string]*source.Image{}, sizes: source.Sizes{}}
	defer l.close()
	var checks []analyze.Check
	for i, ref := range refs {
		s := settings[i]
		rules := s.rules()
		needs := analyze.NeedsOf(rules)
		compressed := s.compressed()
		img, err := l.image(ctx, ref, needs, compressed)
		if err != nil {
			return nil, l.notes, err
		}
		in := analyze.CheckInput{Image: analyze.Inspect(img.Image), Compressed: compressed}
		if base := s.baseline(); needs.Baseline && base != "" {
			old, err := l.image(ctx, base, needs, compressed)
			if err != nil {
				return nil, l.notes, fmt.Errorf("baseline: %w", err)
			}
			c := analyze.Compare(old.Image, img.Image)
			c.Old.Ref = base
			in.Baseline = &c
		}
		// The wasted-space figure comes from the per-layer file analysis of `files`;
		// until it is wired here, wasted-space rules report that they could not run.
		checks = append(checks, analyze.CheckImage(in, rules))
	}
	return checks, l.notes, nil
}

// checkLoader opens each reference once and measures each layer content once.
type checkLoader struct {
	opts  source.Options
	open  map[string]*source.Image
	sizes source.Sizes
	notes []string
}

func (l *checkLoader) image(ctx context.Context, ref string, needs analyze.RuleNeeds, compressed bool) (*source.Image, error) {
	img, ok := l.open[ref]
	if !ok {
		var err error
		img, err = source.Open(ctx, ref, l.opts)
		if err != nil {
			return nil, err
		}
		l.open[ref] = img
		// Sizes the source knows (the engine's history, an archive's layers) stand
		// for the same contents in other images: a registry baseline then needs
		// only the layers the checked image does not share with it.
		for _, layer := range img.Layers {
			if _, known := l.sizes[layer.DiffID]; !known && layer.Size != analyze.Unknown {
				l.sizes[layer.DiffID] = layer.Size
			}
		}
	}
	if !needs.Sizes || compressed {
		return img, nil
	}
	before := img.BytesDownloaded()
	if err := l.sizes.Measure(ctx, img); err != nil {
		return nil, err
	}
	if n := img.BytesDownloaded() - before; n > 0 {
		l.notes = append(l.notes, fmt.Sprintf("%s: downloaded %s (%d bytes) from the registry to measure uncompressed sizes, nothing kept; --compressed downloads no layer", ref, humanSize(n), n))
	}
	return img, nil
}

func (l *checkLoader) close() {
	for _, img := range l.open {
		_ = img.Close()
	}
}
