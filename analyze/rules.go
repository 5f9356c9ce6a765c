package analyze

import (
	"path"
	"regexp"
	"strings"
)

// The instruction rules: what each Dockerfile keyword does to the build cache, which
// files package managers read, which commands install dependencies, which copies take
// a whole directory. diff, files and Dockerfile prediction all decide with these.

// metadataKeywords are the instructions that change only the image config and never
// make a layer, whichever builder ran them.
var metadataKeywords = map[string]bool{
	"ENV": true, "CMD": true, "ENTRYPOINT": true, "EXPOSE": true, "LABEL": true, "USER": true,
	"VOLUME": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true, "ONBUILD": true,
	"ARG": true, "MAINTAINER": true,
}

// MetadataOnly reports whether an instruction keyword can never make a layer.
func MetadataOnly(keyword string) bool { return metadataKeywords[keyword] }

// keyScope is which later steps a differing metadata-only step breaks the cache of.
type keyScope int

const (
	keysNothing keyScope = iota // BuildKit: the instruction changes only the image config
	keysRuns                    // BuildKit: the instruction enters the ops of later RUNs only
	keysAll                     // the legacy builder keys every later step on it
)

// bkConfigOnly are the instructions BuildKit writes into the image config only; no
// operation of the build graph, hence no cache key, includes them.
var bkConfigOnly = map[string]bool{
	"LABEL": true, "EXPOSE": true, "CMD": true, "ENTRYPOINT": true, "VOLUME": true,
	"STOPSIGNAL": true, "HEALTHCHECK": true, "ONBUILD": true, "MAINTAINER": true,
}

// bkRunOnly are the instructions BuildKit folds into later RUNs' operations (their
// environment, user, shell), and into nothing else.
var bkRunOnly = map[string]bool{"ENV": true, "ARG": true, "USER": true, "SHELL": true}

// KeysRunsOnly reports whether BuildKit keys only later RUN steps on an instruction
// of this keyword (ENV, ARG, USER, SHELL).
func KeysRunsOnly(keyword string) bool { return bkRunOnly[keyword] }

// BuildKitComment is the history comment BuildKit gives the steps of a Dockerfile.
const BuildKitComment = "buildkit.dockerfile.v0"

// IsDependencyManifest reports whether a file is one that package managers read to
// install dependencies (package.json, go.sum, requirements-dev.txt, ...).
func IsDependencyManifest(p string) bool {
	base := path.Base(p)
	if strings.HasPrefix(base, "requirements") && strings.HasSuffix(base, ".txt") {
		return true
	}
	return dependencyManifests[base]
}

var dependencyManifests = map[string]bool{
	"package.json": true, "package-lock.json": true, "npm-shrinkwrap.json": true,
	"yarn.lock": true, "pnpm-lock.yaml": true, ".npmrc": true, ".yarnrc.yml": true,
	"pyproject.toml": true, "poetry.lock": true, "Pipfile": true, "Pipfile.lock": true,
	"Gemfile": true, "Gemfile.lock": true, "go.mod": true, "go.sum": true,
	"Cargo.toml": true, "Cargo.lock": true, "composer.json": true, "composer.lock": true,
}

// installer is a dependency install command and the manifests it reads.
type installer struct {
	tool      string
	re        *regexp.Regexp
	manifests []string // nil for system packages
}

var installers = []installer{
	{"npm", regexp.MustCompile(`\bnpm\s+(?:install|ci|i)\b`), []string{"package.json", "package-lock.json", "npm-shrinkwrap.json"}},
	{"yarn", regexp.MustCompile(`\byarn(?:\s+install\b|\s*(?:$|&&|;|\|)|\s+--)`), []string{"package.json", "yarn.lock", ".yarnrc.yml"}},
	{"pnpm", regexp.MustCompile(`\bpnpm\s+(?:install|i)\b`), []string{"package.json", "pnpm-lock.yaml"}},
	{"pip", regexp.MustCompile(`\bpip3?\s+install\b`), []string{"requirements.txt"}},
	{"poetry", regexp.MustCompile(`\bpoetry\s+install\b`), []string{"pyproject.toml", "poetry.lock"}},
	{"pipenv", regexp.MustCompile(`\bpipenv\s+(?:install|sync)\b`), []string{"Pipfile", "Pipfile.lock"}},
	{"bundle", regexp.MustCompile(`\bbundle\s+install\b`), []string{"Gemfile", "Gemfile.lock"}},
	{"go", regexp.MustCompile(`\bgo\s+mod\s+download\b`), []string{"go.mod", "go.sum"}},
	{"cargo", regexp.MustCompile(`\bcargo\s+(?:build|fetch)\b`), []string{"Cargo.toml", "Cargo.lock"}},
	{"composer", regexp.MustCompile(`\bcomposer\s+install\b`), []string{"composer.json", "composer.lock"}},
	{"apt-get", regexp.MustCompile(`\bapt(?:-get)?\s+(?:-\S+\s+)*install\b`), nil},
	{"apk", regexp.MustCompile(`\bapk\s+(?:-\S+\s+)*add\b`), nil},
	{"yum", regexp.MustCompile(`\b(?:yum|dnf|microdnf)\s+(?:-\S+\s+)*install\b`), nil},
}

// dependencyInstall returns the installer a RUN instruction runs, if any.
func dependencyInstall(instruction string) (installer, bool) {
	if Keyword(instruction) != "RUN" {
		return installer{}, false
	}
	for _, in := range installers {
		if in.re.MatchString(instruction) {
			return in, true
		}
	}
	return installer{}, false
}

// legacyDirSource is the legacy builder's name for a copied directory, which hides
// the Dockerfile's own source ("." or "src/").
var legacyDirSource = regexp.MustCompile(`\bdir:[0-9a-f]+…?`)

var legacyCopyKind = regexp.MustCompile(`#\(nop\)\s*(?:COPY|ADD) (file|dir|multi):`)

// broadCopy reports whether a COPY or ADD step copies a whole directory of the build
// context ("COPY . .", "COPY src/ ./src", the legacy builder's "COPY dir:…") rather
// than named files.
func broadCopy(s *Step) bool {
	kw := Keyword(s.Instruction)
	if kw != "COPY" && kw != "ADD" {
		return false
	}
	if m := legacyCopyKind.FindStringSubmatch(s.CreatedBy); m != nil {
		return m[1] == "dir"
	}
	var args []string
	for _, f := range strings.Fields(strings.TrimPrefix(s.Instruction, kw)) {
		if strings.HasPrefix(f, "--from=") {
			return false // another stage or image, not the build context
		}
		if !strings.HasPrefix(f, "--") {
			args = append(args, f)
		}
	}
	if len(args) < 2 {
		return false
	}
	for _, src := range args[:len(args)-1] {
		base := path.Base(src)
		dirLike := src == "." || src == "./" || strings.HasSuffix(src, "/") || !strings.ContainsAny(base, ".*?[")
		if dirLike && !IsDependencyManifest(src) {
			return true
		}
	}
	return false
}
