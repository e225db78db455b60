package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/acme/platform/components/workload"
)

// Hints say what to do about engine errors that have a known remedy: a lock
// another run holds, a service namespace that does not exist.
func Hints(engineError, stack string) []string {
	var out []string
	if strings.Contains(engineError, "currently locked") {
		out = append(out, fmt.Sprintf("another run holds the lock; once it has ended, `platform cancel --stack %s` removes the lock", stack))
	}
	for _, m := range missingNamespace.FindAllStringSubmatch(engineError, -1) {
		out = append(out, fmt.Sprintf("service %s names a namespace that does not exist (its namespace setting in platform:services): "+
			"create it first, or leave the setting empty and the service gets a namespace of its own", m[1]))
	}
	return out
}

// missingNamespace matches the engine's error when the read of a service's
// existing namespace (components/workload) finds none.
var missingNamespace = regexp.MustCompile(`kubernetes:core/v1:Namespace \((\S+)-` + workload.NamespaceReadSuffix + `\)`)
