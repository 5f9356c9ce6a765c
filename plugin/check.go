package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command/completion"
	"github.com/spf13/cobra"

	"github.com/docker-layers/docker-layers/analyze"
	"github.com/docker-layers/docker-layers/analyze/source"
)

type checkOptions struct {
	commonOptions
	rulesFile   string
	printConfig bool
	// limits are the rule flags by rule name, as typed.
	limits     map[string]*string
	baseline   string
	compressed bool
	reg        registryOptions
}

const checkFormatHelp = `Format output: "table" (default), "json", "junit", "github" (annotations and the table), "markdown", or a Go template over CheckRow (one row per image and rule)`

func newCheckCommand(e *env) *cobra.Command {
	opts := checkOptions{limits: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "check [OPTIONS] IMAGE [IMAGE...] | --registry HOST[/NAMESPACE]",
		Short: "Check images against size budgets, for CI",
		Long: `Check each image against budget rules: its size, its largest layer, its number of
layers, its growth over a baseline image (the image of the main branch), the share of
the baseline it reuses. Soft limits (--warn-*) are reported without failing.

Rules come from flags and from ` + defaultRulesFile + ` in the working directory (or
--rules FILE), whose keys are the flag names without dashes; flags win. Sizes are
written as docker writes them: 200MB is 200×10^6 bytes, 1.5GiB is 1.5×2^30, a plain
number is bytes. --compressed applies size rules to compressed sizes (what a registry
stores and a pull moves), read from a registry without downloading any layer.

Only what the rules need is read: from the engine, the metadata "docker history"
reads; from a registry with --compressed, manifests and configs. Uncompressed sizes of
a registry image are measured by downloading its layers (those the other images
checked do not share), and stderr says how much.

` + imageRefHelp + `

With --registry, every tag of a registry (or of a namespace, --repo, --tags, --latest)
is checked on compressed sizes from its manifest and config alone; only the images
that fail or warn are shown, and stderr counts them all. Skipped tags make the exit
status 2 unless a rule failed.

Exit status: 0 when every rule passed (warnings pass), 1 when a rule failed, 2 when
the check could not run: a bad flag, configuration or reference, an unreachable engine
or registry, or a rule whose figures could not be read.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := opts.reg.check(cmd, args, false); err != nil {
				return err
			}
			if opts.printConfig || opts.reg.registry != "" {
				return nil
			}
			return minArgs(1)(cmd, args)
		},
		ValidArgsFunction: completeImages(e),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, e, args, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.format, "format", "table", checkFormatHelp)
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output: full instructions")
	addPlatformFlag(flags, &opts.platform)
	addTimeoutFlag(flags, &opts.timeout)
	flags.StringVarP(&opts.output, "output", "o", "", "Write the output to `FILE` instead of stdout (e.g. --format junit -o size.xml)")
	// Not --config: standalone, that is docker's global flag for its config directory.
	flags.StringVar(&opts.rulesFile, "rules", "", "Read the rules from `FILE` (default: "+defaultRulesFile+" in the working directory, if there)")
	flags.BoolVar(&opts.printConfig, "print-config", false, "Print the effective rules, the file's with the flags on top, and exit")
	flags.StringVar(&opts.baseline, keyBaseline, "", "Compare with the baseline `IMAGE` (e.g. the main branch's image in the registry) for growth and reuse rules")
	flags.BoolVar(&opts.compressed, keyCompressed, false, "Apply size rules to compressed sizes; from a registry, no layer is downloaded")
	for _, k := range analyze.RuleKinds {
		opts.limits[k.Name] = flags.String(k.Name, "", k.Usage)
	}
	addRegistryFlags(flags, &opts.reg)
	flags.Lookup("format").Usage = checkFormatHelp
	flags.Lookup("registry").Usage = "Check every image in a registry: HOST[:PORT][/NAMESPACE] (compressed sizes, from manifests and configs only, never layer blobs)"
	_ = cmd.RegisterFlagCompletionFunc("format", completion.FromList("table", "json", checkFormatJUnit, checkFormatGitHub, checkFormatMarkdown))
	_ = cmd.RegisterFlagCompletionFunc("platform", completion.Platforms())
	return cmd
}

func runCheck(cmd *cobra.Command, e *env, refs []string, opts checkOptions) error {
	cfg, flagRules, err := checkSettings(cmd, opts)
	if err != nil {
		return err
	}
	out := e.dockerCli.Out()
	if opts.printConfig {
		b, err := cfg.printConfig(flagRules)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	}
	// junit, github and markdown are check's own formats; the rest are every command's.
	common, format := opts.commonOptions, strings.TrimSpace(opts.format)
	switch format {
	case checkFormatJUnit, checkFormatGitHub, checkFormatMarkdown:
		common.format = "table"
	}
	r, err := prepareRun(cmd, e, common, CheckRow{})
	if err != nil {
		return err
	}
	defer r.stop()

	if opts.reg.registry != "" {
		v, err := checkRegistry(cmd, e, r, cfg, flagRules, opts)
		if err != nil && v.Images == nil {
			return err
		}
		if rerr := renderCheck(out, format, r, v); rerr != nil {
			return rerr
		}
		if err != nil {
			return err
		}
		return checkExit(v)
	}
	settings := make([]ruleSet, len(refs))
	for i, ref := range refs {
		settings[i] = cfg.forImage(ref, flagRules)
		if len(settings[i].rules()) == 0 {
			return usageError(cmd, fmt.Sprintf("no budget rules for %s: give flags such as --max-size 300MB, or write them in %s (see --help)", termSafe(ref), defaultRulesFile))
		}
	}
	checks, err := checkImages(r.ctx, e, refs, settings, r.srcOpts)
	if err != nil {
		if errorsIs(err, context.Canceled) {
			return err
		}
		// The check could not run: never a pass, and not a finding either.
		return cli.StatusError{StatusCode: ExitUsage, Status: fmt.Sprintf("%s: %v", cmd.CommandPath(), err)}
	}
	v := newCheckView(checks)
	if err := renderCheck(out, format, r, v); err != nil {
		return err
	}
	return checkExit(v)
}

func renderCheck(w io.Writer, format string, r *run, v checkView) error {
	var write func(io.Writer) error
	switch format {
	case checkFormatJUnit:
		write = func(w io.Writer) error { return writeCheckJUnit(w, v) }
	case checkFormatGitHub:
		write = func(w io.Writer) error { return writeCheckGitHub(w, v, r.render) }
	case checkFormatMarkdown:
		write = func(w io.Writer) error { return writeCheckMarkdown(w, v, r.render) }
	default:
		return render(w, r.format, v, renderers[checkView]{table: writeCheckTable, rows: checkRows, html: writeCheckHTML}, r.render)
	}
	return writeOutput(w, r.render.output, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
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
	data, err := readRulesFile(orDefault(file, defaultRulesFile))
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

// maxRulesFile caps what is read of a rules file: budgets take a few hundred bytes.
const maxRulesFile = 1 << 20

func readRulesFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRulesFile+1))
	if err == nil && len(data) > maxRulesFile {
		err = errors.New("larger than 1 MiB: not a rules file")
	}
	return data, err
}

// checkImages loads each image and the baselines its rules compare with, reading
// what the rules need and nothing more, and evaluates the rules. Uncompressed sizes
// come from the source's metadata (the engine's history, an archive's or layout's
// layers) and are measured only where unknown: for a registry image, by downloading
// its layers, which stderr reports. Compressed sizes come from manifests, so images
// checked with --compressed are read without measuring anything. Layer contents are
// read only for wasted-space rules, replayed as `files` replays them.
func checkImages(ctx context.Context, e *env, refs []string, settings []ruleSet, opts source.Options) ([]analyze.Check, error) {
	// Two loads at most: the images (and baselines) whose uncompressed sizes the rules
	// need, and the others; each load measures a content once across its images.
	var groups [2][]string
	var replays [2]*wasteReplay
	for k := range replays {
		replays[k] = &wasteReplay{want: map[string]bool{}}
	}
	measure := make([]bool, len(refs))
	for i, ref := range refs {
		needs := analyze.NeedsOf(settings[i].rules())
		measure[i] = needs.Sizes && !settings[i].compressed()
		k := boolIndex(measure[i])
		groups[k] = appendNew(groups[k], ref)
		if base := settings[i].baseline(); needs.Baseline && base != "" {
			groups[k] = appendNew(groups[k], base)
		}
		if needs.Waste {
			replays[k].want[ref] = true
		}
	}
	var images [2]map[string]*source.Image
	var waste [2]map[string]*analyze.WasteFigures
	for k, group := range groups {
		if len(group) == 0 {
			continue
		}
		sizes := source.SizesNone
		if k == 1 {
			sizes = source.SizesAll
		}
		replays[k].refs = group
		loaded, err := e.load(ctx, group, opts, replays[k].need(sizes))
		if err != nil {
			return nil, err
		}
		defer loaded.Close()
		images[k], waste[k] = map[string]*source.Image{}, map[string]*analyze.WasteFigures{}
		for j, img := range loaded.Images {
			images[k][group[j]], waste[k][group[j]] = img, replays[k].figures(j)
			if n := loaded.Downloaded[j]; n > 0 {
				fmt.Fprintf(e.dockerCli.Err(), "%s: downloaded %s (%d bytes) from the registry to read its layers, nothing kept; size rules with --compressed download no layer\n", termSafe(group[j]), humanSize(n), n)
			}
		}
	}
	var checks []analyze.Check
	for i, ref := range refs {
		s, k := settings[i], boolIndex(measure[i])
		rules := s.rules()
		img := images[k][ref]
		in := analyze.CheckInput{Image: analyze.Inspect(img.Image), Compressed: s.compressed(), Waste: waste[k][ref]}
		if base := s.baseline(); analyze.NeedsOf(rules).Baseline && base != "" {
			c := analyze.Compare(images[k][base].Image, img.Image)
			c.Old.Ref = base
			in.Baseline = &c
		}
		checks = append(checks, analyze.CheckImage(in, rules))
	}
	return checks, nil
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
