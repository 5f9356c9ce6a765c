package analyze

import (
	"regexp"
	"strings"
)

// Both builders write the Dockerfile step into the config's history, differently:
//
//	legacy:   /bin/sh -c #(nop) COPY file:4c3f… in /app
//	          /bin/sh -c npm ci
//	          |2 A=1 B=2 /bin/sh -c npm ci          (with build args)
//	BuildKit: RUN /bin/sh -c npm ci # buildkit
//	          RUN |1 A=1 /bin/sh -c npm ci # buildkit
//	          COPY . . # buildkit
//	          EXPOSE map[3000/tcp:{}]             (BuildKit before 0.32)
//	          EXPOSE [3000/tcp]                   (BuildKit 0.32 and later)
//
// Instruction maps both to the Dockerfile form, so two builds read alike.

var (
	shellPrefix  = regexp.MustCompile(`^(?:\|\d+(?: \S+=\S*)* )?/bin/(?:ba)?sh -c `)
	buildArgs    = regexp.MustCompile(`^\|\d+(?: \S+=\S*)* `)
	contentHash  = regexp.MustCompile(`\b(file|dir|multi):([0-9a-f]{12})[0-9a-f]{52}\b`)
	exposeMap    = regexp.MustCompile(`^EXPOSE map\[(.*)\]$`)
	exposeMapKey = regexp.MustCompile(`(\S+?):\{\}`)
	exposeList   = regexp.MustCompile(`^EXPOSE \[(.*)\]$`)
	legacyIn     = regexp.MustCompile(`^(COPY|ADD) (.*) in (\S+)\s*$`)
)

const buildkitSuffix = " # buildkit"

// Instruction returns the Dockerfile instruction that a history entry's created_by text
// records, in one form for both builders: "RUN npm ci", "COPY . .", "WORKDIR /app",
// "COPY file:4c3f0a9d2b1e… /app". Content hashes are cut to 12 hex digits.
func Instruction(createdBy string) string {
	s := strings.TrimSpace(createdBy)
	if s == "" {
		return ""
	}
	if strings.HasSuffix(s, buildkitSuffix) {
		s = strings.TrimSpace(strings.TrimSuffix(s, buildkitSuffix))
	}
	switch {
	case strings.HasPrefix(s, "RUN "):
		// BuildKit RUN: "RUN /bin/sh -c cmd" or "RUN |1 A=b /bin/sh -c cmd"; exec form
		// "RUN npm ci" stays as it is.
		s = "RUN " + stripShell(strings.TrimPrefix(s, "RUN "))
	case shellPrefix.MatchString(s):
		rest := shellPrefix.ReplaceAllString(s, "")
		if strings.HasPrefix(rest, "#(nop)") {
			s = strings.TrimSpace(strings.TrimPrefix(rest, "#(nop)"))
			if m := legacyIn.FindStringSubmatch(s); m != nil {
				s = m[1] + " " + m[2] + " " + m[3]
			}
		} else {
			s = "RUN " + rest
		}
	case buildArgs.MatchString(s):
		s = "RUN " + buildArgs.ReplaceAllString(s, "")
	}
	if m := exposeMap.FindStringSubmatch(s); m != nil {
		var ports []string
		for _, p := range exposeMapKey.FindAllStringSubmatch(m[1], -1) {
			ports = append(ports, p[1])
		}
		s = "EXPOSE " + strings.Join(ports, " ")
	} else if m := exposeList.FindStringSubmatch(s); m != nil {
		s = "EXPOSE " + m[1]
	}
	s = contentHash.ReplaceAllString(s, "$1:$2…")
	return strings.Join(strings.Fields(s), " ")
}

func stripShell(s string) string {
	s = buildArgs.ReplaceAllString(s, "")
	for _, p := range []string{"/bin/sh -c ", "/bin/bash -c "} {
		if strings.HasPrefix(s, p) {
			return strings.TrimPrefix(s, p)
		}
	}
	return s
}

// Keyword returns the instruction's keyword ("RUN", "COPY", …), or "" if unknown.
func Keyword(instruction string) string {
	k, _, _ := strings.Cut(instruction, " ")
	if k == strings.ToUpper(k) && k != "" {
		return k
	}
	return ""
}
